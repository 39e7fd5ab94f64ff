// The bridge across languages: bilingual dictionaries in the lexical channel, with English as
// the pivot. A question in a bridged language also asks for the English words its words
// translate to (query translation); a note in a bridged language is also indexed under the
// English word each of its words translates to (document translation). So German finds
// English, English finds German, and German finds Russian through English.
//
// Tables: daemon/data/bridge/<language>.tsv.gz, built from FreeDict, CC-CEDICT and enru-dict
// by train/src/bridge-tables.ts (sources and licences in daemon/data/bridge/SOURCES.md). Each
// line is `key<TAB>term:weight term:weight …`, keys sorted by their UTF-8 bytes, English terms
// already in the analyzer's form, weights summing to 1; a stop word's line has none. A key is a
// word as the analyzer gives it, or `~` + its Snowball stem (tried when the word itself is
// missing). A table is a buffer searched in place (one offset per line), loaded the first time
// its language is met.
//
// Constants chosen on whole public sets (xquad-r, all 26 pairs), never per query; see
// docs/quality.md, "The bridge".
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { gunzip, gunzipSync } from "node:zlib";
import { analyze, UNSPACED } from "./analyzer.js";
import { languageTools, type LanguageTools } from "./language.js";
import { readableShare } from "./scripts.js";

export const BRIDGE = {
  /**
   * Weight of one query word's translations, together (the word itself weighs 1). Measured with
   * an experiment script (lexical only, not kept) on all xquad-r pairs before the rest of the
   * bridge: 1 gave an X→en mean nDCG@10 of 0.575 but cost es-es and hi-hi 0.006 each; 0.75 gave
   * 0.571 and cost es-es 0.003, hi-hi 0.0014; 0.5 gave 0.562 and cost no monolingual pair anything.
   */
  queryWeight: 0.5,
  /** Translations kept per query word, strongest first. */
  queryTranslations: 4,
  /** English words a note's word adds to its chunk (document translation). */
  chunkTranslations: 1,
  /**
   * Also index and ask the Snowball stems (`~stem`) of words in a bridged language, beside the
   * words. Measured on xquad-r against the same bridge without them (hybrid, mono pairs, with a
   * coverage power of 4 then): ru-ru +0.040, ar-ar +0.034, tr-tr +0.030, el-el +0.022, es-es
   * +0.012, de-de +0.009, hi-hi +0.006; cross-language pairs within ±0.0015.
   */
  stems: true,
  /**
   * Trust in the latent channel for a translated question may also scale with its dictionary
   * coverage to this power. Measured with every power (0, 1, 2, 4, 8) and factor (glossTrust) on
   * all xquad-r pairs and on cross-language sets from the Obsidian help vault (docs/quality.md,
   * "The bridge"): every rule left some sets 0.0005–0.007 below lexical, each different ones; 0
   * (no coverage term) had the best X→en mean on xquad-r (0.6038) and none below lexical on the
   * vault, so the rule stays part 1's: the share of the encoded text the encoder reads.
   */
  coveragePower: 0,
  /** Trust in the latent channel for a translated question, relative to one the encoder reads as asked (see questionTrust); 0.75, 0.5 and 0.25 measured with every power (see coveragePower). */
  glossTrust: 1,
};

/** How many `detect` answers a bridge keeps: more than one batch of notes `prepare` sees at once. */
const DETECTED_KEPT = 1024;

/** Where the shipped tables live (daemon/data/bridge). */
export const BRIDGE_DIR = new URL("../../data/bridge/", import.meta.url);

export interface BridgeManifest {
  /** Bumped whenever a table changes; part of the analyzer's identity (ANALYZER_VERSION). */
  version: number;
  languages: Record<string, { name: string; keys: number; bytes: number; sources: string[] }>;
}

/** One language's table, searched in place. */
export class Lexicon {
  private readonly starts: Uint32Array;

  constructor(private readonly data: Buffer) {
    let n = 0;
    for (let i = 0; i < data.length; i++) if (data[i] === 10) n++;
    if (data.length > 0 && data[data.length - 1] !== 10) n++;
    this.starts = new Uint32Array(n + 1);
    let line = 1;
    for (let i = 0; i < data.length; i++) if (data[i] === 10 && line < n) this.starts[line++] = i + 1;
    // One past the last line's newline (or its end), so every line ends one before the next starts.
    this.starts[n] = data.length + (data[data.length - 1] === 10 ? 0 : 1);
  }

  get size(): number {
    return this.starts.length - 1;
  }

  /** The translations of `key`, strongest first, or undefined. */
  get(key: string): Array<[string, number]> | undefined {
    const k = Buffer.from(key, "utf8");
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const start = this.starts[mid]!;
      const tab = this.data.indexOf(9, start);
      const c = Buffer.compare(this.data.subarray(start, tab), k);
      if (c === 0) {
        const end = this.starts[mid + 1]! - 1;
        if (end <= tab + 1) return [];
        return this.data.toString("utf8", tab + 1, end).split(" ").map((p) => {
          const at = p.lastIndexOf(":");
          return [p.slice(0, at), Number(p.slice(at + 1))] as [string, number];
        });
      }
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

export interface BridgedQuery {
  /** The language the question was detected in (undefined: not confident). */
  language: string | undefined;
  /** Lexical terms and their weights: the question's own terms (1) and their translations. */
  terms: Map<string, number>;
  /** The question in English words where it was translated (for the latent channel), else undefined. */
  gloss: string | undefined;
  /** Share of the question's words other than stop words that the dictionary translated (1 where nothing was to translate). */
  coverage: number;
}

/**
 * The text the latent channel encodes for a question: its English gloss where the bridge
 * translated it (the encoder reads English), else the question itself.
 */
export function latentText(query: string, bridged: BridgedQuery): string {
  return bridged.gloss ?? query;
}

/** The question as the latent channel takes it: without the gloss where the encoder reads its language. */
export function forEncoder(bridged: BridgedQuery, reads: ((language: string) => boolean) | undefined): BridgedQuery {
  return bridged.gloss !== undefined && bridged.language !== undefined && reads?.(bridged.language) ? { ...bridged, gloss: undefined } : bridged;
}

/**
 * How far fusion trusts the latent channel for a question (search/fusion.ts): the share of the
 * encoded text's letters in scripts the encoder reads (analysis/scripts.ts), times, where that
 * text is the bridge's translation, `glossTrust` × coverage^`coveragePower`.
 */
export function questionTrust(query: string, bridged: BridgedQuery, scripts: ReadonlySet<string> | undefined, glossTrust: number = BRIDGE.glossTrust, coveragePower: number = BRIDGE.coveragePower): number {
  const share = scripts ? readableShare(latentText(query, bridged), scripts) : 1;
  return bridged.gloss === undefined ? share : share * glossTrust * bridged.coverage ** coveragePower;
}

/** The language a question's latent text was translated from (its gloss), or undefined where the encoder reads it as asked. */
export function questionGlossedFrom(bridged: BridgedQuery): string | undefined {
  return bridged.gloss === undefined ? undefined : bridged.language;
}

/**
 * How the latent channel reads a chunk, recorded beside it in the index (index/segment-writer.ts
 * ChunkMeta) for fusion's per-chunk trust (search/fusion.ts chunkTrust): the language of the
 * gloss it encodes, and the share of the text's letters the encoder reads as written.
 */
export function chunkReading(
  analyzer: LexicalAnalyzer,
  text: string,
  prose: boolean,
  encoder: { readonly readableScripts?: ReadonlySet<string>; readonly readsLanguage?: (language: string) => boolean },
): { glossedFrom?: string; readable?: number } {
  // The shape of search/fusion.ts ChunkReading and of those fields of index/segment-writer.ts ChunkMeta.
  const from = analyzer.glossedFrom(text, prose, encoder.readsLanguage);
  const readable = encoder.readableScripts ? readableShare(text, encoder.readableScripts) : 1;
  return { ...(from !== undefined ? { glossedFrom: from } : {}), ...(readable < 1 ? { readable } : {}) };
}

/** What indexing and search ask of lexical analysis: the bridge, or plain analysis (PLAIN). */
export interface LexicalAnalyzer {
  /** Languages translated into English (empty for PLAIN). */
  readonly languages: string[];
  /**
   * Loads what analysing these texts needs (their languages' tables), off the event loop where
   * it can (file reads and gunzip); the analysis itself is synchronous.
   */
  prepare(texts: Iterable<string>): Promise<void>;
  query(text: string): BridgedQuery;
  chunk(head: string, text: string, prose: boolean): string[];
  /**
   * The text the latent channel encodes for a chunk: its English gloss where the bridge
   * translates it and the encoder does not read its language (`reads`, default English only),
   * else the text.
   */
  document(text: string, prose: boolean, reads?: (language: string) => boolean): string;
  /** The language `document` translates a chunk from, or undefined where it gives the text as written. */
  glossedFrom(text: string, prose: boolean, reads?: (language: string) => boolean): string | undefined;
}

/** The analyzer alone, no language bridged: what Loupe did before the bridge (benchmarks compare). */
export const PLAIN: LexicalAnalyzer = {
  languages: [],
  async prepare() {},
  query(text) {
    return { language: undefined, terms: new Map(analyze(text).map((w) => [w, 1])), gloss: undefined, coverage: 1 };
  },
  chunk(head, text) {
    return analyze(`${head}\n${text}`);
  },
  document(text) {
    return text;
  },
  glossedFrom() {
    return undefined;
  },
};

let shipped: Promise<Bridge> | undefined;
let shippedManifest: BridgeManifest | undefined;

/** The shipped tables' manifest, read once (without loading the language detector). */
export function bridgeManifest(): BridgeManifest {
  shippedManifest ??= readManifest(BRIDGE_DIR);
  return shippedManifest;
}

function readManifest(dir: URL): BridgeManifest {
  try {
    return JSON.parse(readFileSync(new URL("manifest.json", dir), "utf8")) as BridgeManifest;
  } catch (e) {
    throw new Error(`the bridge's tables are missing or unreadable in ${dir.pathname} (${(e as Error).message}); reinstall Loupe`);
  }
}

/** "German (de), Spanish (es), …" for people. */
export function describeLanguages(manifest: BridgeManifest, codes: readonly string[]): string {
  return codes.map((c) => `${manifest.languages[c]?.name ?? c} (${c})`).join(", ");
}

/** The bridge over the shipped tables, opened once per process. */
export function openBridge(): Promise<Bridge> {
  shipped ??= Bridge.open();
  return shipped;
}

export class Bridge implements LexicalAnalyzer {
  private readonly tables = new Map<string, Lexicon>();
  private readonly loading = new Map<string, Promise<void>>();
  private preferred: Set<string> | undefined;
  /** Recent `detect` answers by text (at most DETECTED_KEPT, then started afresh). */
  private readonly detected = new Map<string, string | undefined>();

  private constructor(
    private readonly dir: URL,
    readonly manifest: BridgeManifest,
    private readonly tools: LanguageTools,
    private readonly stems: boolean,
  ) {}

  /** Opens the tables in `dir` (the shipped ones by default) and the language tools. */
  static async open(dir: URL = BRIDGE_DIR, options: { stems?: boolean } = {}): Promise<Bridge> {
    return new Bridge(dir, dir.href === BRIDGE_DIR.href ? bridgeManifest() : readManifest(dir), await languageTools(), options.stems ?? BRIDGE.stems);
  }

  /**
   * `~` + the Snowball stem of a word whose translations (`translated`, from translate) are
   * known: a term of its own, beside the word; none for a stop word, or with stems off.
   */
  private stemTerm(language: string, word: string, translated: Array<[string, number]> | undefined): string | undefined {
    if (!this.stems || translated?.length === 0) return undefined;
    const stem = this.tools.stem(language, word);
    return stem === undefined ? undefined : "~" + stem;
  }

  /** `language` when the bridge has a table for it. */
  private bridged(language: string | undefined): language is string {
    return language !== undefined && language in this.manifest.languages;
  }

  /** Languages with a table, by ISO 639-1 code. */
  get languages(): string[] {
    return Object.keys(this.manifest.languages).sort();
  }

  /**
   * The language of `text` (ISO 639-1), a bridged one or English preferred in a close call.
   * Indexing asks it of one note several times (`prepare`, `chunk`, `glossedFrom`, `document`),
   * so the answers for the last texts are kept: an xquad-r paragraph takes ~0.1 ms to detect,
   * and analysing one as indexing does (prepare, reading, terms) went from 0.43 to 0.14 ms for
   * English and from 1.32 to 1.05 ms for German (an experiment script, not kept).
   */
  detect(text: string): string | undefined {
    this.preferred ??= new Set(["en", ...this.languages]);
    if (this.detected.has(text)) return this.detected.get(text);
    if (this.detected.size >= DETECTED_KEPT) this.detected.clear();
    const language = this.tools.detect(text, this.preferred);
    this.detected.set(text, language);
    return language;
  }

  async prepare(texts: Iterable<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const t of texts) {
      const language = this.detect(t);
      if (this.bridged(language) && !this.tables.has(language)) wanted.add(language);
    }
    await Promise.all([...wanted].map((l) => this.load(l)));
  }

  private load(language: string): Promise<void> {
    let p = this.loading.get(language);
    if (!p) {
      p = (async () => {
        const data = await promisify(gunzip)(await readFile(new URL(`${language}.tsv.gz`, this.dir)));
        if (!this.tables.has(language)) this.tables.set(language, new Lexicon(data));
      })();
      this.loading.set(language, p);
    }
    return p;
  }

  /** A language's table; one not prepared is read here, synchronously (German: ~0.13 s). */
  private table(language: string): Lexicon | undefined {
    if (!this.bridged(language)) return undefined;
    let t = this.tables.get(language);
    if (!t) this.tables.set(language, (t = new Lexicon(gunzipSync(readFileSync(new URL(`${language}.tsv.gz`, this.dir))))));
    return t;
  }

  /**
   * English translations of one analyzer term in `language`, strongest first: the word, else its
   * stem, else (in scripts written without spaces) the longest dictionary words it is made of.
   * [] for a stop word, undefined for a word the dictionary lacks (a name, say).
   */
  translate(language: string, term: string): Array<[string, number]> | undefined {
    const table = this.table(language);
    if (!table) return undefined;
    const direct = table.get(term);
    // A key without translations is a stop word: [] (no stem tried).
    if (direct) return direct;
    const stem = this.tools.stem(language, term);
    if (stem !== undefined) return table.get("~" + stem);
    if (term.length > 1 && UNSPACED.test(term)) return this.compound(table, term);
    return undefined;
  }

  /** Greedy longest match of dictionary words inside `term` (Chinese words the segmenter kept whole). */
  private compound(table: Lexicon, term: string): Array<[string, number]> | undefined {
    const chars = [...term];
    const out = new Map<string, number>();
    let parts = 0;
    for (let i = 0; i < chars.length; ) {
      let hit: Array<[string, number]> | undefined;
      let j = chars.length;
      for (; j > i; j--) if ((hit = table.get(chars.slice(i, j).join("")))) break;
      if (!hit) {
        i++;
        continue;
      }
      parts++;
      for (const [t, w] of hit) out.set(t, (out.get(t) ?? 0) + w);
      i = j;
    }
    if (out.size === 0) return undefined;
    return [...out].map(([t, w]) => [t, w / parts] as [string, number]).sort((a, b) => b[1] - a[1]);
  }

  /** A question's lexical terms with their translations into English, where its language is bridged. */
  query(text: string): BridgedQuery {
    const words = analyze(text);
    const terms = new Map<string, number>();
    for (const w of words) terms.set(w, 1);
    const language = this.detect(text);
    if (!this.bridged(language)) return { language, terms, gloss: undefined, coverage: 1 };
    const distinct = [...new Set(words)];
    const translations = distinct.map((w) => this.translate(language, w)?.slice(0, BRIDGE.queryTranslations));
    distinct.forEach((w, i) => {
      const stem = this.stemTerm(language, w, translations[i]);
      if (stem) terms.set(stem, 1);
    });
    const gloss: string[] = [];
    let translated = 0;
    let content = 0;
    distinct.forEach((w, i) => {
      const tr = translations[i];
      if (tr?.length !== 0) content++;
      if (!tr) gloss.push(w); // a name or a number: the same in English
      if (!tr?.length) return; // stop words are left out of the gloss
      translated++;
      const sum = tr.reduce((s, [, x]) => s + x, 0);
      for (const [t, x] of tr) terms.set(t, (terms.get(t) ?? 0) + (BRIDGE.queryWeight * x) / sum);
      gloss.push(tr[0]![0]);
    });
    return { language, terms, gloss: translated > 0 ? gloss.join(" ") : undefined, coverage: content ? translated / content : 1 };
  }

  /**
   * A chunk's lexical terms: `head` (its path) and `text` analyzed, plus, where `prose` and the
   * text is in a bridged language, the first English translation of each word that has one.
   */
  chunk(head: string, text: string, prose: boolean): string[] {
    const terms = analyze(`${head}\n${text}`);
    if (!prose) return terms;
    const language = this.detect(text);
    if (!this.bridged(language)) return terms;
    // The line break parts the head's terms from the text's: the text's are the tail.
    const words = terms.slice(analyze(head).length);
    const translations = words.map((w) => this.translate(language, w));
    const added: string[] = [];
    words.forEach((w, i) => {
      const stem = this.stemTerm(language, w, translations[i]);
      if (stem) added.push(stem);
    });
    words.forEach((w, i) => {
      for (const [t] of translations[i]?.slice(0, BRIDGE.chunkTranslations) ?? []) if (t !== w) added.push(t);
    });
    return added.length ? terms.concat(added) : terms;
  }

  /**
   * A note in a bridged language as the latent channel reads it: its words in order, each
   * replaced by its first English translation where it has one (names and numbers stay, stop
   * words go). The default encoder reads English only; a Russian or Chinese note's own text is
   * noise to it.
   */
  document(text: string, prose: boolean, reads?: (language: string) => boolean): string {
    const language = this.glossedFrom(text, prose, reads);
    if (language === undefined) return text;
    const out: string[] = [];
    for (const w of analyze(text)) {
      const tr = this.translate(language, w);
      if (!tr) out.push(w);
      else if (tr.length) out.push(tr[0]![0]);
    }
    return out.join(" ");
  }

  glossedFrom(text: string, prose: boolean, reads?: (language: string) => boolean): string | undefined {
    if (!prose) return undefined;
    const language = this.detect(text);
    return this.bridged(language) && !reads?.(language) ? language : undefined;
  }
}
