// Assembles the SAE training corpus from text that every machine of ours has after `npm ci`
// (the locked node_modules tree, TypeScript's translated diagnostics) and Debian's packages
// (Python's standard library, manual pages in several languages, /usr/share/doc). Never the
// eval sets. Deterministic: files are listed, sorted, shuffled with the config's seed, and
// taken until each source's token budget is met. Writes passages as JSONL plus a manifest.
//
//   node train/dist/corpus.js [--config train/config/sae.json]
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { chunkLines } from "@loupe/daemon/chunk/lines";
import { defaultPackSourceDir } from "@loupe/daemon/model/default-pack";
import { UseTokenizer, type Vocabulary } from "@loupe/daemon/model/tokenizer";
import { loadConfig, rng, shuffle } from "./common.js";

interface Source {
  name: string;
  kind: "code" | "prose" | "messages";
  roots: string[];
  extensions: string[];
  tokens: number;
}

const MAX_FILE_BYTES = 512 * 1024;
const utf8 = new TextDecoder("utf-8", { fatal: true });

async function listFiles(root: string, extensions: string[], out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(root, e.name);
    if (e.isDirectory()) {
      if (e.name === ".git" || e.name === ".cache" || p.includes("/shared/eval")) continue;
      await listFiles(p, extensions, out);
    } else if (e.isFile() && extensions.some((x) => e.name.endsWith(x))) {
      out.push(p);
    }
  }
}

/** Man page source (roff) → readable text: drop comments and macros, keep their arguments. */
function roffToText(src: string): string {
  return src
    .split("\n")
    .filter((l) => !l.startsWith('.\\"') && !l.startsWith("'\\\""))
    .map((l) => (l.startsWith(".") ? l.replace(/^\.[A-Za-z]+\s*/, "").replace(/^"|"$/g, "") : l))
    .join("\n")
    .replace(/\\f[BIRP]|\\f\(..|\\s[+-]?\d|\\\(..|\\\*.|\\&|\\e/g, "")
    .replace(/\\-/g, "-")
    .replace(/\n{3,}/g, "\n\n");
}

async function readSourceText(source: Source, path: string): Promise<string[]> {
  const bytes = await readFile(path);
  if (source.kind === "messages") {
    // TypeScript's diagnosticMessages.generated.json: { key: message } in one language.
    if (!path.endsWith("diagnosticMessages.generated.json")) return [];
    const messages = Object.values(JSON.parse(utf8.decode(bytes)) as Record<string, string>);
    const out: string[] = [];
    for (let i = 0; i < messages.length; i += 8) out.push(messages.slice(i, i + 8).join("\n"));
    return out;
  }
  const raw = path.endsWith(".gz") ? gunzipSync(bytes) : bytes;
  if (raw.subarray(0, 8192).includes(0)) return [];
  let text = utf8.decode(raw);
  if (path.endsWith(".gz")) text = roffToText(text);
  if (source.kind === "code" && text.split("\n").some((l) => l.length > 400)) return []; // minified
  return [text];
}

async function main(): Promise<void> {
  const config = await loadConfig();
  const { corpus, seed } = config;
  const vocab = JSON.parse(await readFile(join(defaultPackSourceDir(), "vocab.json"), "utf8")) as Vocabulary;
  const tokenizer = new UseTokenizer(vocab);
  const out = resolve(corpus.out);
  await mkdir(dirname(out), { recursive: true });
  const lines: string[] = [];
  const manifest: Record<string, unknown>[] = [];
  const listHash = createHash("sha256");
  for (const source of corpus.sources as Source[]) {
    const missing = source.roots.filter((r) => !existsSync(r));
    if (missing.length === source.roots.length) {
      throw new Error(`corpus source ${source.name}: none of ${source.roots.join(", ")} exists; see train/README.md for the Debian packages to install`);
    }
    const files: string[] = [];
    for (const root of source.roots) await listFiles(root, source.extensions, files);
    files.sort();
    shuffle(files, rng(seed ^ hashString(source.name)));
    let tokens = 0;
    let used = 0;
    let passages = 0;
    for (const path of files) {
      if (tokens >= source.tokens) break;
      if ((await stat(path)).size > MAX_FILE_BYTES) continue;
      let texts: string[];
      try {
        texts = await readSourceText(source, path);
      } catch {
        continue; // unreadable, invalid UTF-8 or bad gzip: skipped
      }
      if (texts.length === 0) continue;
      used++;
      listHash.update(`${source.name}\t${path}\n`);
      for (const text of texts) {
        const parts = source.kind === "messages" ? [text] : chunkLines(text, corpus.linesPerPassage).map((c) => c.text);
        for (const passage of parts) {
          const n = tokenizer.encode(passage).length;
          if (n < 8) continue;
          lines.push(JSON.stringify({ source: source.name, kind: source.kind, path, text: passage }));
          tokens += n;
          passages++;
          if (tokens >= source.tokens) break;
        }
        if (tokens >= source.tokens) break;
      }
    }
    manifest.push({ name: source.name, kind: source.kind, roots: source.roots, filesSeen: files.length, filesUsed: used, passages, tokens });
    process.stderr.write(`${source.name}: ${used} files, ${passages} passages, ${tokens} tokens\n`);
  }
  await writeFile(out, lines.join("\n") + "\n");
  const summary = {
    created: new Date().toISOString(),
    seed,
    config: "train/config/sae.json",
    passages: lines.length,
    tokens: manifest.reduce((s, m) => s + (m.tokens as number), 0),
    fileListSha256: listHash.digest("hex"),
    corpusSha256: createHash("sha256").update(lines.join("\n")).digest("hex"),
    sources: manifest,
  };
  await writeFile(out.replace(/\.jsonl$/, ".manifest.json"), JSON.stringify(summary, null, 2) + "\n");
  process.stderr.write(`corpus: ${summary.passages} passages, ${summary.tokens} tokens → ${out}\n`);
}

function hashString(s: string): number {
  return createHash("sha256").update(s).digest().readUInt32LE(0);
}

await main();
