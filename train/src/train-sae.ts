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
import { trainTopKSae } from "@loupe/daemon/model/sae-train";
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

  const log = createWriteStream(join(outDir, `train-log-layer${c.layer}-w${c.width}.jsonl`));
  process.stderr.write(`training SAE: layer ${c.layer}, width ${c.width}, k ${c.k}, ${train.length} train / ${held.length} held-out tokens, ${Math.floor((train.length * c.epochs) / c.batch)} steps\n`);
  const trained = await trainTopKSae(dim, row, train, held, c, random, (l) => {
    log.write(JSON.stringify({ step: l.step, tokens: l.tokens, fve: l.fve, aux_sse_ratio: l.auxSseRatio, dead_fraction: l.deadFraction, seconds: l.seconds }) + "\n");
    process.stderr.write(`step ${l.step}/${l.totalSteps} · ${l.tokens} tokens · train FVE ${l.fve} · dead ${l.deadFraction} · ${l.seconds} s\n`);
  });
  const { params: p, heldOut, steps: step } = trained;
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
    dead_fraction_train: round(trained.deadFractionTrain),
    minutes: round(trained.seconds / 60),
    machine: `${cpus()[0]?.model} × ${availableParallelism()}`,
  };
  log.write(JSON.stringify({ final: result }) + "\n");
  log.end();
  process.stderr.write(`held-out FVE ${result.held_out_fve}, dead on held-out ${result.dead_fraction_held_out}, dead in training ${result.dead_fraction_train}\n`);
  await writeSaeFiles(outDir, p, { ...result, config: c, seed: config.seed, statesPackFingerprint: meta.packFingerprint, corpusSha256: meta.corpusSha256 });
  await writeFile(join(outDir, `train-result-layer${c.layer}-w${c.width}.json`), JSON.stringify(result, null, 2) + "\n");
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

await main();
