// The Universal Sentence Encoder Lite tokenizer: a unigram SentencePiece model over the pack's
// `vocab.json` ([piece, logProb] pairs), decoded with the same Viterbi pass as the reference
// JavaScript tokenizer the model has always been served with (tfjs-models' USE tokenizer, as
// shipped in @energetic-ai/embeddings). We reimplement it rather than import it because the
// reference lives inside a TF.js package and its prefix search copies the remaining input at
// every position (quadratic on long files); this one walks a trie in place.
//
// Reproduced on purpose, so token ids match the reference exactly (test/tokenizer.test.ts):
// - input is NFKC-normalised, prefixed with "▁", and spaces become "▁"; newlines and tabs are
//   not pieces and become the unknown id 0;
// - a position with no matching piece yields the unknown id 0, and runs of unknowns collapse
//   into one;
// - ties and the "best score is still 0" case are resolved exactly as the reference does.
// One deliberate difference: piece lengths are counted in code points, where the reference
// counts UTF-16 units; the shipped vocabulary has no astral-plane pieces, so ids are equal.

import { readFile } from "node:fs/promises";

/** Ids below this are reserved (unknown, <s>, </s>, three extras) and never matched. */
const RESERVED = 6;
const UNKNOWN_ID = 0;
const SEPARATOR = "\u2581";

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Vocabulary id of the piece ending here, or -1. */
  id: number;
  score: number;
}

function newNode(): TrieNode {
  return { children: new Map(), id: -1, score: 0 };
}

export type Vocabulary = ReadonlyArray<readonly [string, number]>;

export class UseTokenizer implements TextTokenizer {
  private readonly root = newNode();
  private readonly pieceLength: Uint8Array;

  constructor(vocabulary: Vocabulary) {
    if (vocabulary.length <= RESERVED) {
      throw new Error(`tokenizer vocabulary has ${vocabulary.length} pieces; expected more than ${RESERVED}`);
    }
    this.pieceLength = new Uint8Array(vocabulary.length);
    for (let id = RESERVED; id < vocabulary.length; id++) {
      const [piece, score] = vocabulary[id]!;
      let node = this.root;
      let length = 0;
      for (const ch of piece) {
        const cp = ch.codePointAt(0)!;
        let next = node.children.get(cp);
        if (!next) {
          next = newNode();
          node.children.set(cp, next);
        }
        node = next;
        length++;
      }
      // A duplicate piece overwrites the earlier one, as the reference trie does.
      node.id = id;
      node.score = score;
      this.pieceLength[id] = Math.min(length, 255);
    }
    this.pieceLength[UNKNOWN_ID] = 1;
  }

  /** Token ids for `text`, with no length limit (see `windows` for the encoder's limit). */
  encode(text: string): number[] {
    const normalized = text.normalize("NFKC");
    if (normalized.length === 0) return [];
    const input = SEPARATOR + normalized.replace(/ /g, SEPARATOR);
    const symbols: number[] = [];
    for (const ch of input) symbols.push(ch.codePointAt(0)!);
    const n = symbols.length;
    const best = new Float64Array(n + 1);
    const words = new Int32Array(n + 1);
    const lengths = new Int32Array(n + 1);
    // Relaxing edges by ascending start position visits, for every end position, its
    // candidates in the same order as the reference's per-end loop, so ties resolve alike.
    for (let start = 0; start < n; start++) {
      let node: TrieNode | undefined = this.root.children.get(symbols[start]!);
      let matched = false;
      for (let end = start + 1; node && end <= n; end++) {
        if (node.id >= 0) {
          matched = true;
          relax(best, words, lengths, start, end, node.score, node.id);
        }
        node = end < n ? node.children.get(symbols[end]!) : undefined;
      }
      if (!matched) relax(best, words, lengths, start, start + 1, 0, UNKNOWN_ID);
    }
    const reversed: number[] = [];
    for (let at = n; at > 0; at -= lengths[at]! || this.pieceLength[words[at]!]!) reversed.push(words[at]!);
    const ids: number[] = [];
    for (let i = reversed.length - 1; i >= 0; i--) {
      const id = reversed[i]!;
      // The reference walks backwards and drops an unknown that precedes another unknown.
      if (id === UNKNOWN_ID && i > 0 && reversed[i - 1] === UNKNOWN_ID) continue;
      ids.push(id);
    }
    return ids;
  }
}

function relax(
  best: Float64Array,
  words: Int32Array,
  lengths: Int32Array,
  start: number,
  end: number,
  score: number,
  id: number,
): void {
  const total = score + best[start]!;
  if (best[end] === 0 || total >= best[end]!) {
    best[end] = total;
    words[end] = id;
    lengths[end] = end - start;
  }
}

/**
 * Splits a token sequence into windows of at most `size` tokens that overlap by `overlap`
 * tokens, so no token loses all of its context at a window edge. A sequence that fits is one
 * window; an empty one is no window.
 */
export function windows(ids: readonly number[], size: number, overlap: number): number[][] {
  if (size <= 0 || overlap < 0 || overlap >= size) {
    throw new Error(`invalid window shape: size ${size}, overlap ${overlap} (need 0 <= overlap < size)`);
  }
  if (ids.length === 0) return [];
  if (ids.length <= size) return [ids.slice()];
  const stride = size - overlap;
  const out: number[][] = [];
  for (let start = 0; ; start += stride) {
    const end = Math.min(start + size, ids.length);
    out.push(ids.slice(start, end));
    if (end === ids.length) break;
  }
  return out;
}

/** What the encoder needs of any tokenizer: a text's ids, without special tokens. */
export interface TextTokenizer {
  encode(text: string): number[];
}

/**
 * A Hugging Face `tokenizer.json` (WordPiece, Unigram, BPE and byte-level BPE, with their
 * normalizers and pre-tokenizers), read by @huggingface/tokenizers. Special tokens are never
 * added here: the encoder frames each window itself with the ids the manifest records
 * (`specialFrame` finds them when a pack is built).
 */
export class HfTokenizer implements TextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    /** The vocabulary's pieces (`hfPieces`), read from the same parse. */
    readonly pieces: string[],
  ) {}

  static async open(file: string, configFile?: string): Promise<HfTokenizer> {
    const { Tokenizer } = await import("@huggingface/tokenizers");
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`cannot read the tokenizer ${file}: ${(e as Error).message}`);
    }
    const config = configFile ? (JSON.parse(await readFile(configFile, "utf8")) as Record<string, unknown>) : {};
    // The library wants every component named; a tokenizer.json may leave some out.
    for (const key of ["normalizer", "pre_tokenizer", "post_processor", "decoder"]) json[key] ??= null;
    json.added_tokens ??= [];
    const pieces = hfPieces(json as Parameters<typeof hfPieces>[0]);
    try {
      return new HfTokenizer(new Tokenizer(json, config), pieces);
    } catch (e) {
      throw new Error(`${file} is not a tokenizer the Hugging Face tokenizer library can read: ${(e as Error).message}`);
    }
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** The ids with the tokenizer's own special tokens, as its post-processor adds them. */
  encodeWithSpecials(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: true }).ids;
  }
}

type Tokenizer = import("@huggingface/tokenizers").Tokenizer;

/**
 * The special ids a tokenizer puts before and after one text ([CLS] … [SEP], <s> … </s>,
 * <bos> …), read off its post-processor by encoding a probe with and without them.
 */
export function specialFrame(tokenizer: HfTokenizer): { prefix: number[]; suffix: number[] } {
  const probe = "loupe probe text";
  const plain = tokenizer.encode(probe);
  const framed = tokenizer.encodeWithSpecials(probe);
  for (let start = 0; start + plain.length <= framed.length; start++) {
    if (plain.every((id, i) => framed[start + i] === id)) return { prefix: framed.slice(0, start), suffix: framed.slice(start + plain.length) };
  }
  throw new Error("the tokenizer's post-processor changes the text's own tokens; Loupe cannot frame windows with it");
}

/** A tokenizer.json's vocabulary pieces (the model's, then added tokens). */
export function hfPieces(json: { model?: { vocab?: unknown }; added_tokens?: Array<{ content: string }> }): string[] {
  const vocab = json.model?.vocab;
  const pieces: string[] = Array.isArray(vocab) ? vocab.map((v) => (Array.isArray(v) ? String(v[0]) : String(v))) : vocab && typeof vocab === "object" ? Object.keys(vocab) : [];
  return [...pieces, ...(json.added_tokens ?? []).map((t) => t.content)];
}

/**
 * The whole words a vocabulary holds, lower-cased: SentencePiece pieces that start a word (▁),
 * byte-level BPE ones (Ġ), and WordPiece pieces that do not continue one (##).
 */
export function vocabularyWords(pieces: Iterable<string>): Set<string> {
  const words = new Set<string>();
  const all = [...pieces];
  const wordPiece = all.filter((p) => p.startsWith("##")).length > 0.05 * all.length;
  for (const p of all) {
    if (p.startsWith("\u2581") || p.startsWith("\u0120")) words.add(p.slice(1).toLowerCase());
    else if (wordPiece && !p.startsWith("##") && !/^\[.*\]$/.test(p)) words.add(p.toLowerCase());
  }
  return words;
}
