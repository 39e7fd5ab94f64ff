// bench/workspace: index a real tree through the daemon's core (the Loupe façade, one root,
// watch off) with the default pack on the CPU, and report files/s, chunks/s, tokens/s, peak RSS
// and index bytes against source bytes. The pipeline's tokens/s is compared with the bare
// encoder's in the same run: every time the pipeline encodes a batch of chunk texts, the same
// texts go through `encoder.encodeSparse(texts, "document")` once more, timed apart (which runs
// first alternates from batch to batch, so warm caches favour neither), and that time is taken
// out of the pipeline's wall time. The ratio is pipeline tokens/s ÷ bare tokens/s on exactly
// the chunks the pipeline encoded; what it loses is walking, reading, hashing, chunking,
// lexical analysis, index writes and commits. Goal: ratio ≥ 0.8.
//
// The tree is copied (an evenly spaced sample of the files the ignore rules keep, capped by
// --max-files so the run fits in about five minutes on two cores) into a temp folder and
// indexed there; the index lives in a temp cache folder, deleted afterwards.
//
//   npm run bench:workspace [-- --tree DIR] [--max-files N] [--bare-every N] [--batch-size N] [--out FILE]
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { packEncoder, type ChunkEncoder } from "@loupe/daemon/core/chunk-encoder";
import { Loupe } from "@loupe/daemon/core/loupe";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder } from "@loupe/daemon/model/encoder";
import { ChunkTextReader } from "@loupe/daemon/core/chunk-text";
import { cacheDir } from "@loupe/protocol";
import { walkWorkspace } from "@loupe/daemon/workspace/ignore";
import { machineInfo } from "./common.js";

const { values } = parseArgs({
  options: {
    // This repository's node_modules after `npm ci`: ~3,400 indexable files, ~29 MB of
    // TypeScript, JavaScript, declarations, Markdown, JSON, a little Python and YAML.
    tree: { type: "string", default: "node_modules" },
    // Files sampled from the tree (evenly spaced in walk order); 0 = all. The default fits the
    // run (pipeline + the bare encoder on the same texts) in about five minutes on 2 cores.
    "max-files": { type: "string", default: "300" },
    // Compare with the bare encoder on every Nth encode call of the pipeline (1 = every call).
    "bare-every": { type: "string", default: "1" },
    // Windows per encoder run (Encoder's batchSize); the default is the daemon's
    // (DAEMON_BATCH_WINDOWS in daemon/src/cli/main.ts), which bounds its memory.
    "batch-size": { type: "string", default: "8" },
    keep: { type: "boolean", default: false },
    out: { type: "string", default: "bench/results/workspace.json" },
  },
});
const tree = resolve(values.tree);
const maxFiles = Number(values["max-files"]);
const bareEvery = Number(values["bare-every"]);
const log = (line: string) => process.stderr.write(`${line}\n`);

// --- the sample -------------------------------------------------------------------------------
const walked = await walkWorkspace(tree);
const all = walked.files;
const picked = maxFiles > 0 && maxFiles < all.length ? Array.from({ length: maxFiles }, (_, i) => all[Math.floor((i * all.length) / maxFiles)]!) : all;
const work = await mkdtemp(join(tmpdir(), "loupe-bench-ws-"));
const root = join(work, "tree");
for (const f of picked) {
  await mkdir(dirname(join(root, f.path)), { recursive: true });
  await copyFile(join(tree, f.path), join(root, f.path));
}
const sourceBytes = picked.reduce((a, f) => a + f.size, 0);
const byExtension: Record<string, number> = {};
for (const f of picked) {
  const base = f.path.slice(f.path.lastIndexOf("/") + 1);
  const ext = base.lastIndexOf(".") > 0 ? base.slice(base.lastIndexOf(".") + 1) : "(none)";
  byExtension[ext] = (byExtension[ext] ?? 0) + 1;
}
log(`${tree}: ${all.length} indexable files (${walked.skipped.length} skipped paths); sampled ${picked.length} files, ${(sourceBytes / 1e6).toFixed(2)} MB, into ${root}`);

// --- the model, and the encoder the pipeline sees ---------------------------------------------
const pack = await ensureDefaultPack({ cacheDir: cacheDir(), log });
const encoder = await Encoder.open(pack, { provider: "cpu", log, batchSize: Number(values["batch-size"]) });
const real = await packEncoder(encoder);
// Warm both sessions up outside the timing (the sparse session is created on first use).
await encoder.encodeSparse(["function warmUp() { return 1; }", "a short note about warming up"], "document");

let calls = 0;
let pipelineEncodeMs = 0;
let bareMs = 0;
const encodedTexts: string[] = [];
const bareTexts: string[] = [];
async function bare(texts: readonly string[]): Promise<void> {
  const t = performance.now();
  await encoder.encodeSparse(texts, "document");
  bareMs += performance.now() - t;
  bareTexts.push(...texts);
}
const measured: ChunkEncoder = {
  fingerprint: real.fingerprint,
  name: real.name,
  provider: real.provider,
  labels: real.labels,
  encodeQuery: (text, topK) => real.encodeQuery(text, topK),
  close: () => real.close(),
  async encodeDocuments(texts) {
    const compare = calls % bareEvery === 0;
    const bareFirst = compare && Math.floor(calls / bareEvery) % 2 === 1;
    calls++;
    if (bareFirst) await bare(texts);
    const t = performance.now();
    const out = await real.encodeDocuments(texts);
    pipelineEncodeMs += performance.now() - t;
    if (compare && !bareFirst) await bare(texts);
    encodedTexts.push(...texts);
    return out;
  },
};

// --- the run ----------------------------------------------------------------------------------
const rssAtStart = process.memoryUsage().rss;
let peakRss = rssAtStart;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
const load = loadavg();
const cache = join(work, "cache");
const loupe = new Loupe({ cacheDir: cache, encoder: measured, log, rootOptions: { watch: false } });
const started = performance.now();
const r = await loupe.addRoot(root);
await loupe.whenIdle();
const wallMs = performance.now() - started;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const status = await loupe.rootStatus(r);
if (r.state === "error") throw new Error(`indexing failed: ${r.lastError}`);
const pipelineMs = wallMs - bareMs;

// --- tokens (outside the timing) --------------------------------------------------------------
// Tokens of a text = the SentencePiece ids of its normalised text (what the encoder reads);
// window tokens = the ids actually run through the model (windows of ≤ 128 overlap by 32).
function tokens(texts: readonly string[]): { tokens: number; windowTokens: number } {
  let n = 0;
  let w = 0;
  for (const t of texts) {
    n += encoder.tokenize(encoder.encoderText(t)).length;
    for (const win of encoder.windows(t)) w += win.length;
  }
  return { tokens: n, windowTokens: w };
}
const s = r.searcher();
const indexedTexts: string[] = [];
const texts = new ChunkTextReader(r.root, Number.MAX_SAFE_INTEGER);
for (const f of picked) for (const d of s.docsOfPath(f.path)) indexedTexts.push((await texts.text(s.chunk(d))) ?? "");
const indexed = tokens(indexedTexts);
const encoded = tokens(encodedTexts);
const bareTok = tokens(bareTexts);

const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
const pipelineTps = encoded.tokens / (pipelineMs / 1000);
const bareTps = bareTok.tokens / (bareMs / 1000);
const result = {
  bench: "workspace",
  date: new Date().toISOString(),
  machine: machineInfo(load),
  pack: { name: pack.manifest.name, fingerprint: pack.manifest.fingerprint },
  provider: encoder.provider,
  batch_size: encoder.batchSize,
  tree: { path: values.tree, indexable_files: all.length, sampled_files: picked.length, sample: maxFiles > 0 && maxFiles < all.length ? "evenly spaced in walk order" : "all", by_extension: byExtension },
  files: status.files,
  skipped: status.skipped,
  chunks: status.chunks,
  chunks_encoded: r.counters.encoded,
  chunks_reused: r.counters.reused,
  commits: r.counters.commits,
  source_bytes: sourceBytes,
  tokens: { counted: "SentencePiece ids of each chunk's normalised text (encoder.tokenize(encoder.encoderText(text)))", indexed_chunks: indexed.tokens, encoded_chunks: encoded.tokens, encoded_window_tokens: encoded.windowTokens },
  // The pipeline's own time: the run's wall time less the bare encoder's turns.
  wall_s: round(pipelineMs / 1000, 2),
  run_wall_s: round(wallMs / 1000, 2),
  files_per_s: round(status.files / (pipelineMs / 1000), 1),
  chunks_per_s: round(status.chunks / (pipelineMs / 1000), 1),
  tokens_per_s: round(pipelineTps),
  window_tokens_per_s: round(encoded.windowTokens / (pipelineMs / 1000)),
  encode_share_of_wall: round(pipelineEncodeMs / pipelineMs, 3),
  bare: {
    what: `encoder.encodeSparse(texts, "document") on the texts of every ${bareEvery === 1 ? "" : `${bareEvery}th `}encode call, alternating first/second`,
    calls_compared: Math.ceil(calls / bareEvery),
    calls,
    tokens: bareTok.tokens,
    seconds: round(bareMs / 1000, 2),
    tokens_per_s: round(bareTps),
    window_tokens_per_s: round(bareTok.windowTokens / (bareMs / 1000)),
  },
  ratio: round(pipelineTps / bareTps, 3),
  ratio_goal: 0.8,
  ratio_met: pipelineTps / bareTps >= 0.8,
  rss: { at_start_mb: round(rssAtStart / 2 ** 20), peak_mb: round(peakRss / 2 ** 20), sampled_every_ms: 200 },
  index_bytes: status.indexBytes,
  index_bytes_per_source_byte: round(status.indexBytes / sourceBytes, 3),
  index_bytes_per_chunk: round(status.indexBytes / status.chunks),
};
log(
  `${result.files} files, ${result.chunks} chunks (${result.chunks_encoded} encoded) in ${result.wall_s} s: ${result.files_per_s} files/s, ${result.chunks_per_s} chunks/s, ` +
    `${result.tokens_per_s} tok/s vs bare ${result.bare.tokens_per_s} tok/s → ratio ${result.ratio}; peak RSS ${result.rss.peak_mb} MB; index ${(status.indexBytes / 1e6).toFixed(1)} MB for ${(sourceBytes / 1e6).toFixed(1)} MB of source`,
);
await loupe.close();
await encoder.close();
if (!values.keep) await rm(work, { recursive: true, force: true });
else log(`kept ${work}`);
const out = resolve(values.out);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(result, null, 2) + "\n");
process.stdout.write(JSON.stringify(result) + "\n");
