// bench/encode: encoder throughput (tokens/s) through Loupe's Encoder against a bare
// onnxruntime-node session on the same model, inputs and thread settings, in one run. The two
// are measured in alternating rounds so machine noise hits both alike; the ratio says how much
// the wrapper (tensor building, output slicing, batching) costs. Goal: ratio ≥ 0.8.
//
//   npm run bench:encode [-- --provider cpu|cuda|webgpu|auto] [--threads N] [--seconds S] [--out FILE]
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder, ortVersion, type ProviderChoice } from "@loupe/daemon/model/encoder";
import { cacheDir } from "@loupe/protocol";
import { alternate, rng } from "./common.js";

const { values } = parseArgs({
  options: {
    provider: { type: "string", default: "cpu" },
    threads: { type: "string" },
    seconds: { type: "string", default: "1.5" },
    out: { type: "string", default: "bench/results/encode.json" },
  },
});
const threads = values.threads ? Number(values.threads) : availableParallelism();
const secondsPerSide = Number(values.seconds);
const BATCHES = [1, 8, 32];
const LENGTHS = [32, 128];
const ROUNDS = 5;


const pack = await ensureDefaultPack({ cacheDir: cacheDir(), log: (l) => process.stderr.write(`${l}\n`) });
const provider = values.provider as ProviderChoice;
const encoder = await Encoder.open(pack, { provider, threads, batchSize: 32, log: (l) => process.stderr.write(`${l}\n`) });
const bare = await ort.InferenceSession.create(pack.path(pack.manifest.encoder.file!), {
  executionProviders: [encoder.provider],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
});
const output = pack.manifest.encoder.outputs.layer1!; // the default pack has both graphs

const rows = [];
for (const length of LENGTHS) {
  for (const batch of BATCHES) {
    const random = rng(batch * 1000 + length);
    const windows = Array.from({ length: batch }, () => Array.from({ length }, () => 6 + Math.floor(random() * 7990)));
    const ids = BigInt64Array.from(windows.flat(), (v) => BigInt(v));
    const feeds = {
      input_ids: new ort.Tensor("int64", ids, [batch, length]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(batch * length).fill(1n), [batch, length]),
    };
    const wrapperRun = () => encoder.runWindows(windows, ["layer1"]);
    const bareRun = () => bare.run(feeds, [output]);
    const [wrapperRps, bareRps] = await alternate(wrapperRun, bareRun, secondsPerSide, ROUNDS);
    const wrapperTps = wrapperRps * batch * length;
    const bareTps = bareRps * batch * length;
    const row = {
      batch,
      tokens: length,
      wrapper_tokens_per_s: Math.round(wrapperTps),
      bare_tokens_per_s: Math.round(bareTps),
      ratio: Math.round((wrapperTps / bareTps) * 1000) / 1000,
      wrapper_ms_per_batch: Math.round((1000 / wrapperRps) * 100) / 100,
      bare_ms_per_batch: Math.round((1000 / bareRps) * 100) / 100,
    };
    rows.push(row);
    process.stderr.write(`batch ${batch} × ${length} tokens: wrapper ${row.wrapper_tokens_per_s} tok/s, bare ${row.bare_tokens_per_s} tok/s, ratio ${row.ratio}\n`);
  }
}

// The sparse head's cost: the fused graph (token states → SAE encoder → log1p-ReLU → max-pool →
// Top-K 400) against the plain graph fetching layer-1 states, both as bare sessions on the same
// windows (one text per window), alternating rounds. ratio = with head / without.
const headRows = [];
if (pack.manifest.encoder.sparseFile) {
  const sparse = await ort.InferenceSession.create(pack.path(pack.manifest.encoder.sparseFile), {
    executionProviders: [encoder.provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
  const names = pack.manifest.encoder.outputs;
  for (const length of LENGTHS) {
    for (const batch of BATCHES) {
      const random = rng(batch * 1000 + length);
      const ids = BigInt64Array.from({ length: batch * length }, () => BigInt(6 + Math.floor(random() * 7990)));
      const base = {
        input_ids: new ort.Tensor("int64", ids, [batch, length]),
        attention_mask: new ort.Tensor("int64", new BigInt64Array(batch * length).fill(1n), [batch, length]),
      };
      const withHead = {
        ...base,
        top_k: new ort.Tensor("int64", BigInt64Array.of(BigInt(pack.manifest.topK.document)), [1]),
        text_of_window: new ort.Tensor("int64", BigInt64Array.from({ length: batch }, (_, i) => BigInt(i)), [batch]),
        text_count: new ort.Tensor("int64", BigInt64Array.of(BigInt(batch)), [1]),
      };
      const headRun = () => sparse.run(withHead, [names.latentIds!, names.latentWeights!]);
      const plainRun = () => bare.run(base, [output]);
      const [headRps, plainRps] = await alternate(headRun, plainRun, secondsPerSide, ROUNDS);
      const headTps = headRps * batch * length;
      const plainTps = plainRps * batch * length;
      const row = {
        batch,
        tokens: length,
        head_tokens_per_s: Math.round(headTps),
        no_head_tokens_per_s: Math.round(plainTps),
        ratio: Math.round((headTps / plainTps) * 1000) / 1000,
      };
      headRows.push(row);
      process.stderr.write(`head, batch ${batch} × ${length} tokens: with ${row.head_tokens_per_s} tok/s, without ${row.no_head_tokens_per_s} tok/s, ratio ${row.ratio}\n`);
    }
  }
  await sparse.release();
}

const result = {
  bench: "encode",
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? "unknown", cores: availableParallelism(), node: process.version, onnxruntime: ortVersion() },
  pack: { name: pack.manifest.name, fingerprint: pack.manifest.fingerprint },
  provider: encoder.provider,
  threads,
  output,
  rows,
  head: { width: pack.manifest.sparseHead.saeWidth, topK: pack.manifest.topK.document, rows: headRows },
};
const out = resolve(values.out);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(result, null, 2) + "\n");
process.stdout.write(JSON.stringify(result) + "\n");
await encoder.close();
await bare.release();
