// The CLI commands that run the engine in the CLI's own process (eval, encode, pack, ls-files)
// and the daemon's encoder; main.ts loads this module only for them, since it pulls in the model
// runtime, the index and the chunkers.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bridgeManifest, describeLanguages } from "../analysis/bridge.js";
import { DEFAULT_LIMITS } from "../chunk/index.js";
import { packEncoder, threadEncoder, type ChunkEncoder } from "../core/chunk-encoder.js";
import { readEvalSet, type EvalSet } from "../eval/beir.js";
import { EVAL_ENGINES, EVAL_MODES, runEval, type EvalEngine, type EvalMode, type EvalResult } from "../eval/run.js";
import { readTaskFiles, runTaskEval, type TaskScores } from "../eval/tasks.js";
import { runWorkspaceEval } from "../eval/workspace.js";
import { loadLabels } from "../model/labels.js";
import { DEFAULT_TOP_K, ensureDefaultPack } from "../model/default-pack.js";
import { Encoder, type ProviderChoice } from "../model/encoder.js";
import { loadPack, type ModelPack } from "../model/pack.js";
import { HEAD_PRECISIONS, type HeadPrecision } from "../model/convert/sparse-head.js";
import { TEXT_NORMALIZATIONS, type TextNormalization } from "../model/normalize.js";
import { SAE_FORMATS, type SaeFormat } from "../model/sae-import.js";
import { cacheDir, SEARCH_MODES, type SearchMode } from "@loupe/protocol/client";
import { DEFAULT_FUSION, type FusionKind } from "../search/fusion.js";
import { ROLE_PRIOR } from "../search/rerank.js";
import type { LoupeOptions } from "../core/loupe.js";
import { walkWorkspace } from "../workspace/ignore.js";
import { intInRange, makeLog, oneOf, positiveInt, usageError, type Values } from "./main.js";
import { progressReporter } from "./progress.js";
import { quotePath } from "./quote.js";

/**
 * Windows per encoder run in the daemon. The sparse head's activations are windows × 128 tokens ×
 * 16,384 latents, so the batch sets the daemon's memory: 8 windows peaked at 495 MB RSS against
 * 1,469 MB for 32, at the same speed (96 chunks × 3, interleaved runs on 2 cores: 48.5–49.7 s vs
 * 48.6 s).
 */
const DAEMON_BATCH_WINDOWS = 8;

async function openPack(values: Values): Promise<ModelPack> {
  const log = makeLog(values);
  if (values.pack) return loadPack(resolve(values.pack));
  return ensureDefaultPack({ cacheDir: cacheDir(), log, ...(values.sae ? { saeDir: resolve(values.sae) } : {}) });
}

export async function openEncoder(values: Values, batchSize?: number): Promise<Encoder> {
  const provider = oneOf<ProviderChoice>("provider", values.provider, ["auto", "cpu", "cuda", "webgpu"], "auto");
  const threads = values.threads === undefined ? undefined : positiveInt("threads", values.threads, 1, 256);
  return Encoder.open(await openPack(values), { provider, ...(threads ? { threads } : {}), ...(batchSize ? { batchSize } : {}), log: makeLog(values) });
}

/** The daemon's encoder: worker threads, so that its event loop never runs a session. */
export async function openDaemonEncoder(values: Values): Promise<ChunkEncoder> {
  const provider = oneOf<ProviderChoice>("provider", values.provider, ["auto", "cpu", "cuda", "webgpu"], "auto");
  const threads = values.threads === undefined ? undefined : positiveInt("threads", values.threads, 1, 256);
  return threadEncoder(await openPack(values), { provider, batchSize: DAEMON_BATCH_WINDOWS, log: makeLog(values), ...(threads ? { threads } : {}) });
}

export async function cmdEval(values: Values): Promise<void> {
  if (values.tasks) return evalTasks(values);
  if (!values.set) usageError("eval needs --set DIR (a folder with corpus.jsonl, queries.jsonl, qrels.tsv)");
  const mode = oneOf<EvalMode>("mode", values.mode, EVAL_MODES);
  const fusion = {
    ...DEFAULT_FUSION,
    kind: oneOf<FusionKind>("fusion", values.fusion, ["wsum", "rrf"], DEFAULT_FUSION.kind),
    alpha: fraction("alpha", values.alpha, DEFAULT_FUSION.alpha),
    // --alpha sets one lexical weight for every document; without it code gets its own.
    alphaCode: values.alpha === undefined ? DEFAULT_FUSION.alphaCode : undefined,
  };
  const set = await readEvalSet(resolve(values.set));
  if (values.workspace) return evalWorkspace(values, set, mode);
  const encoder = mode === "lexical" ? undefined : await openEncoder(values);
  const progress = values.quiet ? null : progressReporter();
  const result = await runEval(set, {
    name: values.set.replace(/\/+$/, ""),
    mode,
    fusion,
    engine: oneOf<EvalEngine>("engine", values.engine, EVAL_ENGINES, "index"),
    ...(values["query-k"] ? { queryK: positiveInt("query-k", values["query-k"], DEFAULT_TOP_K.query, 65536) } : {}),
    ...(values["doc-k"] ? { docK: positiveInt("doc-k", values["doc-k"], DEFAULT_TOP_K.document, 65536) } : {}),
    ...(encoder ? { encoder } : {}),
    ...(progress ? { onProgress: progress.update } : {}),
  });
  progress?.stop();
  await encoder?.close();
  printEval(values, result);
}

async function evalWorkspace(values: Values, set: EvalSet, mode: EvalMode): Promise<void> {
  if (mode === "dense") usageError("--workspace runs the daemon's modes: lexical, latent or hybrid");
  if (values.fusion || values.alpha || values["query-k"] || values["doc-k"] || values.engine) usageError("--workspace uses the daemon's defaults; drop --fusion, --alpha, --query-k, --doc-k and --engine");
  const encoder = await openEncoder(values);
  const progress = values.quiet ? null : progressReporter();
  try {
    const result = await runWorkspaceEval(set, { name: values.set!.replace(/\/+$/, ""), mode, encoder: await packEncoder(encoder), ...(progress ? { onProgress: progress.update } : {}),
      chunkLimits: { maxChars: positiveInt("chunk-chars", values["chunk-chars"], DEFAULT_LIMITS.maxChars, 100_000), maxLines: positiveInt("chunk-lines", values["chunk-lines"], DEFAULT_LIMITS.maxLines, 100_000) } });
    progress?.stop();
    printEval(values, result);
  } finally {
    await encoder.close();
  }
}

async function evalTasks(values: Values): Promise<void> {
  if (values.set || values.workspace) usageError("--tasks and --set are two kinds of eval; give one");
  if (!values.repos) usageError("--tasks needs --repos DIR: the folder holding one checkout per task file's repo.id");
  if (values.fusion || values.alpha || values["query-k"] || values["doc-k"] || values.engine) usageError("--tasks uses the daemon's defaults; drop --fusion, --alpha, --query-k, --doc-k and --engine");
  const mode = oneOf<SearchMode>("mode", values.mode, SEARCH_MODES, "hybrid");
  const files = await readTaskFiles(resolve(values.tasks!));
  const encoder = await openEncoder(values);
  const progress = values.quiet ? null : progressReporter();
  const temp = values["index-dir"] ? null : await mkdtemp(join(tmpdir(), "loupe-eval-tasks-"));
  try {
    const result = await runTaskEval(files, {
      repos: resolve(values.repos), cacheDir: temp ?? resolve(values["index-dir"]!), encoder: await packEncoder(encoder), mode,
      ...(values.rerank ? { rerank: rerankOption(values.rerank) } : {}),
      ...(progress ? { onProgress: progress.update } : {}),
    });
    progress?.stop();
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + "\n");
      return;
    }
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(7);
    const row = (name: string, s: TaskScores) => `${name.padEnd(16)}${String(s.tasks).padStart(6)}${pct(s.lines_top1)}${pct(s.lines_top3)}${pct(s.lines_top10)}${pct(s.file_top3)}\n`;
    process.stdout.write(`mode ${result.mode} · ${result.overall.tasks} tasks · ${result.seconds} s\n${"".padEnd(16)} tasks  lines@1 lines@3 lines@10 file@3\n`);
    for (const r of result.repos) process.stdout.write(row(r.id, r));
    process.stdout.write(row("all", result.overall));
  } finally {
    progress?.stop();
    await encoder.close();
    if (temp) await rm(temp, { recursive: true, force: true });
  }
}

/** `--rerank prior=0.5,symbol=0.5,diversity=0.85` (any subset): the constants of search/rerank.ts to measure. */
function rerankOption(raw: string): NonNullable<LoupeOptions["rerank"]> {
  const out: NonNullable<LoupeOptions["rerank"]> = {};
  for (const part of raw.split(",")) {
    const [key, value] = part.split("=");
    const x = Number(value);
    if (!Number.isFinite(x) || x < 0 || x > 10) usageError(`--rerank: ${part} needs a number from 0 to 10, as in prior=0.5,symbol=0.5,diversity=0.85`);
    if (key === "prior") out.rolePrior = { ...ROLE_PRIOR, ...out.rolePrior, changelog: x, lock: x, generated: x };
    else if (key === "test" || key === "docs") out.rolePrior = { ...ROLE_PRIOR, ...out.rolePrior, [key]: x };
    else if (key === "symbol") out.symbolBoost = x;
    else if (key === "diversity") out.diversity = x;
    else if (key === "free") out.sameFileFree = x;
    else usageError(`--rerank: unknown constant "${key}"; use prior, test, docs, symbol, diversity`);
  }
  return out;
}

function printEval(values: Values, result: EvalResult): void {
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + "\n");
    return;
  }
  process.stdout.write(
    `set ${result.set} · mode ${result.mode} · ${result.queries} queries\n` +
      `nDCG@10 ${result["ndcg@10"].toFixed(4)}  MRR@10 ${result["mrr@10"].toFixed(4)}  R@100 ${result["recall@100"].toFixed(4)}  (${result.seconds} s)\n`,
  );
}

function fraction(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (!Number.isFinite(x) || x < 0 || x > 1) usageError(`--${name} must be a number from 0 to 1, got "${raw}"`);
  return x;
}

export async function cmdEncode(values: Values, positionals: string[]): Promise<void> {
  const text = positionals.join(" ");
  if (!text.trim()) usageError("encode needs a text, e.g. loupe encode \"open a database connection\"");
  const encoder = await openEncoder(values);
  try {
    const kind = values.query ? "query" : "document";
    const k = values.k === undefined ? undefined : positiveInt("k", values.k, 40, encoder.pack.manifest.sparseHead.saeWidth ?? 1);
    const [v] = await encoder.encodeSparse([text], kind, k);
    const labels = await loadLabels(encoder.pack);
    const latents = Array.from(v!.ids, (id, i) => ({ id, weight: Math.round(v!.weights[i]! * 10000) / 10000, label: labels?.[id] ?? "" }));
    if (values.json) {
      process.stdout.write(JSON.stringify({ latents }) + "\n");
      return;
    }
    if (latents.length === 0) process.stdout.write("no active latents\n");
    for (const l of latents) process.stdout.write(`${String(l.id).padStart(6)}  ${l.weight.toFixed(4)}  ${l.label}\n`);
  } finally {
    await encoder.close();
  }
}

export async function cmdPack(values: Values): Promise<void> {
  const encoder = await openEncoder(values);
  const m = encoder.pack.manifest;
  const scripts = [...encoder.readableScripts];
  await encoder.close();
  const manifest = bridgeManifest();
  const bridged = { manifest, languages: Object.keys(manifest.languages).sort() };
  if (values.json) {
    process.stdout.write(JSON.stringify({ dir: encoder.pack.dir, provider: encoder.provider, readableScripts: scripts, bridged: bridged.languages, manifest: m }) + "\n");
    return;
  }
  process.stdout.write(
    `${m.name} ${m.version}\n  fingerprint ${m.fingerprint}\n  folder      ${encoder.pack.dir}\n` +
      `  source      ${m.source} (${m.license})\n  provider    ${encoder.provider}\n` +
      `  tokenizer   ${m.tokenizer.kind === "use-sentencepiece" ? "USE SentencePiece" : `Hugging Face ${m.tokenizer.file}${m.tokenizer.prefix.length + m.tokenizer.suffix.length ? `, ${m.tokenizer.prefix.length} + ${m.tokenizer.suffix.length} special tokens per window` : ""}${m.tokenizer.queryPrefix ? `, queries read as "${m.tokenizer.queryPrefix}…"` : ""}${m.tokenizer.documentPrefix ? `, documents as "${m.tokenizer.documentPrefix}…"` : ""}`}\n` +
      `  windows     ${m.maxTokens} tokens, overlap ${m.windowOverlap}; hidden size ${m.hiddenSize}\n` +
      `  sparse head layer ${m.sparseHead.layer}${m.sparseHead.tap ? ` (${m.sparseHead.tap})` : ""}, SAE ${m.sparseHead.saeWidth ?? "none yet"}${m.sparseHead.activation && m.sparseHead.activation !== "relu" ? ` ${m.sparseHead.activation}` : ""}${m.sparseHead.precision ? `, ${m.sparseHead.precision}` : ""}; top-k ${m.topK.query}/${m.topK.document}; labels ${m.labels ? "yes" : "none"}\n` +
      `  languages   ${(m.languages ?? ["en"]).includes("*") ? "every language, as written" : (m.languages ?? ["en"]).join(", ")} (in another bridged language the meaning channel reads the English gloss)\n` +
      `  reads       ${scripts.join(", ")} script (queries in other scripts lean on exact words: the meaning channel is trusted by the share it can read)\n` +
      `  bridged     ${describeLanguages(bridged.manifest, bridged.languages)} ⇄ English, by bilingual dictionaries (Loupe's, not the pack's: questions and notes in them are translated word by word; the meaning channel reads a translated question in English)\n`,
  );
}

function languageList(raw: string): string[] {
  const list = raw.split(",").map((l) => l.trim().toLowerCase()).filter(Boolean);
  const bad = list.find((l) => !/^([a-z]{2,3}|\*)$/.test(l));
  if (bad !== undefined || list.length === 0) usageError(`--languages takes ISO 639-1 codes separated by commas (en,de,zh) or *, got "${raw}"`);
  return list;
}

export async function cmdPackBuild(values: Values, positionals: string[]): Promise<void> {
  if (positionals.length > 0) usageError(`pack build takes options only, got "${positionals[0]}"`);
  const { buildPack } = await import("../model/pack-build.js");
  if (values["list-values"]) {
    if (!values.onnx) usageError("--list-values needs --onnx FILE");
    const { producedValues, readOnnx } = await import("../model/onnx/surgery.js");
    const { model } = await readOnnx(resolve(values.onnx));
    for (const v of producedValues(model)) process.stdout.write(`${v.output}\t${v.op}\t${v.node}\n`);
    return;
  }
  for (const required of ["onnx", "tokenizer", "out"] as const) if (!values[required]) usageError(`pack build needs --${required}`);
  if (!values.sae === !values["train-sae"]) usageError("pack build needs either --sae PATH (an SAE to import) or --train-sae --corpus DIR (train one)");
  if (values["train-sae"] && !values.corpus) usageError("--train-sae needs --corpus DIR (text files whose token states the SAE learns)");
  const topK = values["top-k"]?.split(",");
  if (topK && topK.length !== 2) usageError(`--top-k takes QUERY,DOCUMENT (e.g. 40,400), got "${values["top-k"]}"`);
  await buildPack({
    onnx: values.onnx!,
    tokenizer: values.tokenizer!,
    ...(values["tokenizer-config"] ? { tokenizerConfig: values["tokenizer-config"] } : {}),
    ...(values.layer !== undefined ? { layer: intInRange("layer", values.layer, 0, 10_000) } : {}),
    ...(values.tap ? { tap: values.tap } : {}),
    ...(values.sae ? { sae: values.sae } : {}),
    ...(values["train-sae"]
      ? {
          trainSae: {
            corpus: values.corpus!,
            ...(values["sae-width"] ? { width: positiveInt("sae-width", values["sae-width"], 0, 1 << 20) } : {}),
            ...(values["sae-k"] ? { k: positiveInt("sae-k", values["sae-k"], 0, 4096) } : {}),
            ...(values["sae-tokens"] ? { tokens: positiveInt("sae-tokens", values["sae-tokens"], 0, 1 << 30) } : {}),
            ...(values["sae-epochs"] ? { epochs: positiveInt("sae-epochs", values["sae-epochs"], 0, 100) } : {}),
          },
        }
      : {}),
    ...(values["sae-format"] ? { saeFormat: oneOf<SaeFormat>("sae-format", values["sae-format"], SAE_FORMATS) } : {}),
    out: values.out!,
    ...(values.name ? { name: values.name } : {}),
    precision: oneOf<HeadPrecision>("precision", values.precision, HEAD_PRECISIONS, "float"),
    ...(topK ? { topK: { query: positiveInt("top-k", topK[0]!, 1, 1 << 20), document: positiveInt("top-k", topK[1]!, 1, 1 << 20) } } : {}),
    ...(values["max-tokens"] ? { maxTokens: positiveInt("max-tokens", values["max-tokens"], 8, 1 << 16) } : {}),
    ...(values.overlap !== undefined ? { windowOverlap: intInRange("overlap", values.overlap, 0, 1 << 15) } : {}),
    ...(values["query-prefix"] !== undefined ? { queryPrefix: values["query-prefix"] } : {}),
    ...(values["document-prefix"] !== undefined ? { documentPrefix: values["document-prefix"] } : {}),
    normalization: oneOf<TextNormalization>("normalize", values.normalize, TEXT_NORMALIZATIONS, "none"),
    ...(values.languages ? { languages: languageList(values.languages) } : {}),
    ...(values["labels-corpus"] ? { labelsCorpus: values["labels-corpus"] } : {}),
    provider: oneOf<ProviderChoice>("provider", values.provider, ["auto", "cpu", "cuda", "webgpu"], "cpu"),
    log: makeLog(values),
  });
  process.stdout.write(`${resolve(values.out!)}\n`);
}

export async function cmdLsFiles(values: Values, positionals: string[]): Promise<void> {
  if (positionals.length > 1) usageError("ls-files takes one root folder");
  const root = resolve(positionals[0] ?? ".");
  const { files, skipped } = await walkWorkspace(root);
  makeLog(values)(`${files.length} files to index under ${root}, ${skipped.length} paths skipped`);
  if (values.json) {
    process.stdout.write(JSON.stringify({ root, files: files.map((f) => f.path), skipped }) + "\n");
    return;
  }
  let out = files.map((f) => `${quotePath(f.path)}\n`).join("");
  if (values.skipped) out += skipped.map((s) => `skipped: ${quotePath(s.path)} — ${s.reason}\n`).join("");
  process.stdout.write(out);
}
