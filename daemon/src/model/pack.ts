// Model packs: a model is data. A pack is a folder holding `manifest.json` beside its weight
// files; the manifest says what the files are and how to use them, and its fingerprint (a hash
// of every weight file) is what indexes record so they never mix vectors from two models.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import { TEXT_NORMALIZATIONS } from "./normalize.js";

/**
 * The manifest format this build reads and writes. 2: packs from any encoder (`loupe pack
 * build`): a Hugging Face tokenizer with its window frame and prefixes, a sparse graph without
 * a states graph, the SAE's activation.
 */
export const PACK_FORMAT = 2;
/** Format 1 (the default pack's before `loupe pack build`) is a subset of 2 and still reads. */
const READABLE_FORMATS = [1, 2];

const fileName = z
  .string()
  .min(1)
  .refine((f) => !f.includes("/") && !f.includes("\\") && f !== "." && f !== "..", "must be a plain file name inside the pack");

export const ManifestSchema = z.object({
  format: z.number().int(),
  name: z.string().min(1),
  version: z.string().min(1),
  /** "sha256:<hex>" over the weight files; see `fingerprintFiles`. */
  fingerprint: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  source: z.string().min(1),
  license: z.string().min(1),
  tokenizer: z.discriminatedUnion("kind", [
    z.object({
      /** The USE unigram vocabulary as [piece, score] pairs (model/tokenizer.ts UseTokenizer). */
      kind: z.literal("use-sentencepiece"),
      file: fileName,
    }),
    z.object({
      /** A Hugging Face tokenizer.json (model/tokenizer.ts HfTokenizer). */
      kind: z.literal("hf-tokenizer"),
      file: fileName,
      /** tokenizer_config.json, when the pack was built with one. */
      config: fileName.optional(),
      /** Special ids before and after every window ([CLS] … [SEP], <bos> …); never pooled. */
      prefix: z.array(z.number().int().nonnegative()),
      suffix: z.array(z.number().int().nonnegative()),
      /** Text put before every window of a query or a document (e5: "query: " / "passage: "). */
      queryPrefix: z.string().default(""),
      documentPrefix: z.string().default(""),
    }),
  ]),
  encoder: z.object({
    /** Graph with the token states and the sentence embedding (the default pack's). */
    file: fileName.optional(),
    /**
     * The same graph with the fused sparse head (present with an SAE). A separate file because
     * onnxruntime runs every node of a graph whatever is fetched: dense-only work would pay for
     * the head (measured: 340 → 600 ms for 32 × 128 tokens with a 4,096-latent head).
     */
    sparseFile: fileName.optional(),
    /** Output names of the ONNX graph. */
    outputs: z.object({
      layer0: z.string().optional(),
      layer1: z.string().optional(),
      sentence: z.string().optional(),
      /** Token states of the tapped layer (a states graph from `exposeStates`, for SAE training). */
      states: z.string().optional(),
      /** Present when the graph carries the fused sparse head (see convert/use-lite.ts). */
      latentIds: z.string().optional(),
      latentWeights: z.string().optional(),
    }),
  }),
  /**
   * Languages (ISO 639-1) the encoder reads as they are written, `*` for every language; default
   * English only. In a bridged language the encoder does not read, the latent channel encodes the
   * bridge's English gloss of a note or a question instead (analysis/bridge.ts).
   */
  languages: z.array(z.string().regex(/^([a-z]{2,3}|\*)$/)).optional(),
  /** Per-latent labels (top-activating tokens with context), when the pack has an SAE. */
  labels: fileName.optional(),
  /**
   * How text is normalised before the encoder's tokenizer sees it (see normalize.ts); the
   * lexical channel always reads the original text. Default "none".
   */
  textNormalization: z.enum(TEXT_NORMALIZATIONS).default("none"),
  /** Longest token sequence one encoder window takes. */
  maxTokens: z.number().int().positive(),
  /** Tokens shared by neighbouring windows of a long text (0 ≤ overlap < maxTokens). */
  windowOverlap: z.number().int().nonnegative(),
  hiddenSize: z.number().int().positive(),
  sparseHead: z.object({
    /** Which layer's token states feed the sparse head (0 or 1 for USE-Lite). */
    layer: z.number().int().nonnegative(),
    /** The graph value tapped for those states (packs built by `loupe pack build`). */
    tap: z.string().optional(),
    /** How the SAE's pre-activations become activations (default relu). */
    activation: z.enum(["relu", "jumprelu", "topk"]).optional(),
    /** SAE latent count when the pack ships an SAE, else null. */
    saeWidth: z.number().int().positive().nullable(),
    /** How the head's SAE product runs: float32, or int8 weights with dynamically quantised states. Informational. */
    precision: z.enum(["float", "int8", "int8-all"]).optional(),
  }),
  topK: z.object({ query: z.number().int().positive(), document: z.number().int().positive() }),
  /** Every file the fingerprint covers, in the order it is hashed. */
  weights: z.array(fileName).min(1),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export interface ModelPack {
  dir: string;
  manifest: Manifest;
  path(file: string): string;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The fingerprint of a set of files: sha256 over each file's name and content hash, in order. */
export async function fingerprintFiles(dir: string, files: readonly string[]): Promise<string> {
  const outer = createHash("sha256");
  for (const f of files) outer.update(`${f}\0${await sha256File(join(dir, f))}\n`);
  return `sha256:${outer.digest("hex")}`;
}

/**
 * Opens and validates the pack in `dir`: the manifest parses, its format is supported, every
 * named file exists, and the weight files hash to the manifest's fingerprint.
 */
export async function loadPack(dir: string): Promise<ModelPack> {
  const manifestPath = join(dir, "manifest.json");
  let raw: string;
  try {
    raw = await readFile(manifestPath, "utf8");
  } catch {
    throw new LoupeError(ErrorCode.PackMissingFile, `model pack ${dir} has no manifest.json; is this a Loupe model pack folder?`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new LoupeError(ErrorCode.PackInvalidManifest, `${manifestPath} is not valid JSON (${(e as Error).message})`);
  }
  const format = (json as { format?: unknown })?.format;
  if (typeof format === "number" && !READABLE_FORMATS.includes(format)) {
    throw new LoupeError(
      ErrorCode.PackUnsupportedVersion,
      `${manifestPath} has pack format ${format}; this Loupe reads formats ${READABLE_FORMATS.join(" and ")}. ` +
        (format > PACK_FORMAT ? "Upgrade Loupe to use this pack." : "Rebuild the pack with this Loupe's converter."),
    );
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new LoupeError(ErrorCode.PackInvalidManifest, `${manifestPath} is not a valid manifest: ${problems}`);
  }
  const manifest = parsed.data;
  if (manifest.windowOverlap >= manifest.maxTokens) {
    throw new LoupeError(ErrorCode.PackInvalidManifest, `${manifestPath}: windowOverlap must be smaller than maxTokens`);
  }
  if (manifest.encoder.file === undefined && manifest.encoder.sparseFile === undefined) {
    throw new LoupeError(ErrorCode.PackInvalidManifest, `${manifestPath}: encoder.file or encoder.sparseFile must be given`);
  }
  const head = [manifest.sparseHead.saeWidth !== null, manifest.encoder.outputs.latentIds !== undefined, manifest.encoder.sparseFile !== undefined];
  if (head.some((h) => h !== head[0])) {
    throw new LoupeError(ErrorCode.PackInvalidManifest, `${manifestPath}: sparseHead.saeWidth, encoder.sparseFile and encoder.outputs.latentIds must be given together`);
  }
  const graphs = [manifest.encoder.file, manifest.encoder.sparseFile].filter((f): f is string => f !== undefined);
  const tokenizerFiles = [manifest.tokenizer.file, ...(manifest.tokenizer.kind === "hf-tokenizer" && manifest.tokenizer.config ? [manifest.tokenizer.config] : [])];
  const needed = new Set([...tokenizerFiles, ...graphs, ...manifest.weights, ...(manifest.labels ? [manifest.labels] : [])]);
  for (const f of needed) {
    try {
      if (!(await stat(join(dir, f))).isFile()) throw new Error("not a file");
    } catch {
      throw new LoupeError(ErrorCode.PackMissingFile, `model pack ${manifest.name} is missing ${f} (expected at ${join(dir, f)}); reinstall or rebuild the pack`);
    }
  }
  for (const f of [...tokenizerFiles, ...graphs, ...(manifest.labels ? [manifest.labels] : [])]) {
    if (!manifest.weights.includes(f)) {
      throw new LoupeError(ErrorCode.PackInvalidManifest, `${manifestPath}: ${f} must be listed in "weights" so the fingerprint covers it`);
    }
  }
  const actual = await fingerprintFiles(dir, manifest.weights);
  if (actual !== manifest.fingerprint) {
    throw new LoupeError(
      ErrorCode.PackFingerprintMismatch,
      `model pack ${manifest.name} in ${dir} does not match its fingerprint (manifest ${manifest.fingerprint.slice(0, 19)}…, files ${actual.slice(0, 19)}…): ` +
        "a weight file was changed or damaged. Restore the pack, or delete the folder to have the default pack rebuilt.",
    );
  }
  return { dir, manifest, path: (file) => join(dir, file) };
}

/** Whether a pack's encoder reads text in `language` as it is written (see `languages`). */
export function packReads(manifest: Pick<Manifest, "languages">): (language: string) => boolean {
  const languages = manifest.languages ?? ["en"];
  return languages.includes("*") ? () => true : (language) => languages.includes(language);
}
