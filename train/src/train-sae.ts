// Trains the TopK SAE on stored token states (see states.ts) and writes the shipped weights.
//
//   node train/dist/train-sae.js [--config train/config/sae.json] [--layer L] [--width N]
//        [--tokens N] [--out DIR]
//
// Held out: every passage whose number is divisible by round(1 / heldOutFraction); reported
// metrics are on those. A log line every 25 steps goes to stderr and to DIR/train-log.jsonl.
import { createWriteStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig, rng, shuffle } from "./common.js";
import { Adam, backward, clearGrads, encodeBatch, encoderSession, initSae, normalizeRows, projectDecoderGrad, zeroGrads, type SaeParams } from "./sae.js";
import { SHARD_TOKENS, type StatesMeta } from "./states-format.js";
import { writeSaeFiles } from "./sae-io.js";

const { values: args } = parseArgs({
  options: {
    config: { type: "string" },
    layer: { type: "string" },
    width: { type: "string" },
    tokens: { type: "string" },
    out: { type: "string" },
  },
  strict: true,
});

async function main(): Promise<void> {
  const config = await loadConfig();
  const c = { ...config.sae };
  if (args.layer) c.layer = Number(args.layer);
  if (args.width) c.width = Number(args.width);
  const maxTokens = args.tokens ? Number(args.tokens) : Infinity;
  const outDir = resolve(args.out ?? "daemon/packs/use-lite-en");
  await mkdir(outDir, { recursive: true });
  const statesDir = resolve(config.states.out);
  const meta = JSON.parse(await readFile(join(statesDir, "meta.json"), "utf8")) as StatesMeta;
  if (!meta.layers.includes(c.layer)) throw new Error(`states hold layers ${meta.layers}; layer ${c.layer} was not extracted`);
  const dim = meta.hidden;

  // Load the layer's states.
  const shards: Float32Array[] = [];
  for (let s = 0; s < meta.shards; s++) {
    const buf = await readFile(join(statesDir, `layer${c.layer}-${String(s).padStart(4, "0")}.f32`));
    shards.push(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
  }
  const where = new Int32Array((await readFile(join(statesDir, "where.i32"))).buffer.slice(0));
  const every = Math.round(1 / c.heldOutFraction);
  const train: number[] = [];
  const held: number[] = [];
  for (let t = 0; t < meta.tokens; t++) (where[2 * t]! % every === 0 ? held : train).push(t);
  const random = rng(config.seed);
  shuffle(train, random);
  if (train.length > maxTokens) train.length = maxTokens;
  const row = (t: number) => shards[Math.floor(t / SHARD_TOKENS)]!.subarray((t % SHARD_TOKENS) * dim, (t % SHARD_TOKENS + 1) * dim);

  // Input statistics from up to 100k training tokens: mean (b_pre's start) and the scale
  // that makes E‖s·x‖² = dim.
  const mean = new Float64Array(dim);
  let sq = 0;
  const sample = train.slice(0, 100_000);
  for (const t of sample) {
    const x = row(t);
    for (let i = 0; i < dim; i++) {
      mean[i]! += x[i]!;
      sq += x[i]! * x[i]!;
    }
  }
  const scale = Math.sqrt(dim / (sq / sample.length));
  const p = initSae({ width: c.width, dim }, random, Float32Array.from(mean, (m) => m / sample.length), scale);
  const session = await encoderSession();
  const adam = new Adam([p.wEnc, p.bEnc, p.wDec, p.bPre]);
  const lastFired = new Float64Array(c.width);
  const deadBias = new Float32Array(c.width);
  const fired = new Uint8Array(c.width);
  const totalSteps = Math.floor((train.length * c.epochs) / c.batch);
  const log = createWriteStream(join(outDir, `train-log-layer${c.layer}-w${c.width}.jsonl`));
  const started = Date.now();
  const x = new Float32Array(c.batch * dim);
  const g = zeroGrads(p);
  let seen = 0;
  let step = 0;
  let windowSse = 0, windowVar = 0, windowAux = 0;
  process.stderr.write(`training SAE: layer ${c.layer}, width ${c.width}, k ${c.k}, ${train.length} train / ${held.length} held-out tokens, ${totalSteps} steps\n`);
  for (let epoch = 0; epoch < c.epochs; epoch++) {
    if (epoch > 0) shuffle(train, random);
    for (let b = 0; b + c.batch <= train.length; b += c.batch) {
      for (let i = 0; i < c.batch; i++) {
        const src = row(train[b + i]!);
        for (let d = 0; d < dim; d++) x[i * dim + d] = src[d]! * scale;
      }
      for (let j = 0; j < c.width; j++) deadBias[j] = seen - lastFired[j]! > c.deadAfterTokens ? 0 : -1e9;
      const enc = await encodeBatch(session, p, x, c.k, c.auxK, deadBias);
      clearGrads(g);
      fired.fill(0);
      const stats = backward(p, x, enc, g, c.auxCoef, fired, true);
      seen += c.batch;
      for (let j = 0; j < c.width; j++) if (fired[j]) lastFired[j] = seen;
      projectDecoderGrad(p, g);
      // Warm up over 5% of the steps, decay linearly over the last 20%.
      const warm = Math.min(1, (step + 1) / Math.max(1, totalSteps * 0.05));
      const decay = Math.min(1, (totalSteps - step) / Math.max(1, totalSteps * 0.2));
      adam.step([g.wEnc, g.bEnc, g.wDec, g.bPre], c.lr * warm * decay);
      normalizeRows(p.wDec, dim);
      windowSse += stats.sse;
      windowAux += stats.auxSse;
      windowVar += batchVariance(x, dim);
      step++;
      if (step % 25 === 0 || step === totalSteps) {
        let dead = 0;
        for (let j = 0; j < c.width; j++) if (seen - lastFired[j]! > c.deadAfterTokens) dead++;
        const line = {
          step,
          tokens: seen,
          fve: round(1 - windowSse / windowVar),
          aux_sse_ratio: round(windowAux / windowVar),
          dead_fraction: round(dead / c.width),
          seconds: Math.round((Date.now() - started) / 1000),
        };
        log.write(JSON.stringify(line) + "\n");
        process.stderr.write(`step ${step}/${totalSteps} · ${seen} tokens · train FVE ${line.fve} · dead ${line.dead_fraction} · ${line.seconds} s\n`);
        windowSse = windowVar = windowAux = 0;
      }
    }
  }
  const heldOut = await evaluate(p, session, held.map(row), c.k);
  const result = {
    layer: c.layer,
    width: c.width,
    k: c.k,
    train_tokens: train.length,
    epochs: c.epochs,
    steps: step,
    held_out_tokens: held.length,
    held_out_fve: round(heldOut.fve),
    dead_fraction_held_out: round(heldOut.deadFraction),
    dead_fraction_train: round(countDead(lastFired, seen, c.deadAfterTokens) / c.width),
    minutes: round((Date.now() - started) / 60000),
    machine: `${cpus()[0]?.model} × ${availableParallelism()}`,
  };
  log.write(JSON.stringify({ final: result }) + "\n");
  log.end();
  process.stderr.write(`held-out FVE ${result.held_out_fve}, dead on held-out ${result.dead_fraction_held_out}, dead in training ${result.dead_fraction_train}\n`);
  await writeSaeFiles(outDir, p, { ...result, config: c, seed: config.seed, statesPackFingerprint: meta.packFingerprint, corpusSha256: meta.corpusSha256 });
  await writeFile(join(outDir, `train-result-layer${c.layer}-w${c.width}.json`), JSON.stringify(result, null, 2) + "\n");
}

function countDead(lastFired: Float64Array, seen: number, after: number): number {
  let n = 0;
  for (const f of lastFired) if (seen - f > after) n++;
  return n;
}

function batchVariance(x: Float32Array, dim: number): number {
  const n = x.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d]! += x[i * dim + d]!;
  let v = 0;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) {
    const z = x[i * dim + d]! - mean[d]! / n;
    v += z * z;
  }
  return v;
}

/** Held-out fraction of variance explained and the share of latents that never fire on it. */
export async function evaluate(p: SaeParams, session: Awaited<ReturnType<typeof encoderSession>>, rows: Float32Array[], k: number): Promise<{ fve: number; deadFraction: number }> {
  const dim = p.dim;
  const everFired = new Uint8Array(p.width);
  const noDead = new Float32Array(p.width).fill(-1e9);
  let sse = 0, variance = 0;
  const B = 2048;
  for (let b = 0; b < rows.length; b += B) {
    const n = Math.min(B, rows.length - b);
    const x = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) x[i * dim + d] = rows[b + i]![d]! * p.scale;
    const enc = await encodeBatch(session, p, x, k, 1, noDead);
    sse += backward(p, x, enc, null, 0, everFired, false).sse;
    variance += batchVariance(x, dim);
  }
  let dead = 0;
  for (const f of everFired) if (!f) dead++;
  return { fve: 1 - sse / variance, deadFraction: dead / p.width };
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

await main();
