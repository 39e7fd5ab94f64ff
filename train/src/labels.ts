// Derives latent labels for a trained SAE: runs its encoder over token states of the training
// corpus, keeps each latent's strongest activations, and labels the latent with the tokens
// that most often carry them, plus one short context. Writes labels.json beside the SAE.
//
//   node train/dist/labels.js [--sae DIR] [--states DIR] [--tokens N]
// (--states: a folder written by states.ts or pair-states.ts; default: the config's states.out)
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { defaultPackSourceDir } from "@loupe/daemon/model/default-pack";
import { fromHalf, readSaeEncoder } from "@loupe/daemon/model/sae-format";
import { loadConfig } from "./common.js";
import { encodeBatch, encoderSession, type SaeParams } from "@loupe/daemon/model/sae-train";
import { SHARD_TOKENS, type StatesMeta } from "./states-format.js";

const { values: args } = parseArgs({
  options: { config: { type: "string" }, sae: { type: "string" }, states: { type: "string" }, tokens: { type: "string" } },
  strict: true,
});

/** Activations kept per latent. */
const TOP = 24;
const CONTEXT = 4;

async function main(): Promise<void> {
  const config = await loadConfig();
  const saeDir = resolve(args.sae ?? "daemon/packs/use-lite-en");
  const sae = await readSaeEncoder(saeDir);
  const { width, dim, layer } = sae.meta;
  const statesDir = resolve(args.states ?? config.states.out);
  const meta = JSON.parse(await readFile(join(statesDir, "meta.json"), "utf8")) as StatesMeta;
  const limit = Math.min(meta.tokens, args.tokens ? Number(args.tokens) : 400_000);
  const ids = new Int32Array((await readFile(join(statesDir, "token-ids.i32"))).buffer.slice(0));
  const where = new Int32Array((await readFile(join(statesDir, "where.i32"))).buffer.slice(0));
  const vocab = JSON.parse(await readFile(join(defaultPackSourceDir(), "vocab.json"), "utf8")) as Array<[string, number]>;
  const piece = (id: number) => (id === 0 ? "⟨?⟩" : vocab[id]![0]);

  const p: SaeParams = {
    width, dim, scale: sae.meta.scale, bEnc: sae.bEnc, bPre: sae.bPre,
    wEnc: Float32Array.from(sae.wEnc, fromHalf), wDec: new Float32Array(0),
  };
  const session = await encoderSession();
  // Per latent: a small min-list of (value, token index).
  const topVal = new Float32Array(width * TOP).fill(-1);
  const topTok = new Int32Array(width * TOP).fill(-1);
  const noDead = new Float32Array(width).fill(-1e9);
  const B = 2048;
  const shardOf = (t: number) => Math.floor(t / SHARD_TOKENS);
  let shardIndex = -1;
  let shard: Float32Array | null = null;
  for (let start = 0; start < limit; start += B) {
    const n = Math.min(B, limit - start);
    const x = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const t = start + i;
      if (shardOf(t) !== shardIndex) {
        shardIndex = shardOf(t);
        const buf = await readFile(join(statesDir, `layer${layer}-${String(shardIndex).padStart(4, "0")}.f32`));
        shard = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      }
      const o = (t % SHARD_TOKENS) * dim;
      for (let d = 0; d < dim; d++) x[i * dim + d] = shard![o + d]! * p.scale;
    }
    const enc = await encodeBatch(session, p, x, 32, 1, noDead);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 32; j++) {
        const v = enc.vals[i * 32 + j]!;
        if (v <= 0) continue;
        const latent = Number(enc.idx[i * 32 + j]!);
        let worst = 0;
        for (let s = 1; s < TOP; s++) if (topVal[latent * TOP + s]! < topVal[latent * TOP + worst]!) worst = s;
        if (v > topVal[latent * TOP + worst]!) {
          topVal[latent * TOP + worst] = v;
          topTok[latent * TOP + worst] = start + i;
        }
      }
    }
    process.stderr.write(`\rlabels: ${Math.min(start + B, limit)}/${limit} tokens`);
  }
  const context = (t: number) => {
    const parts: string[] = [];
    for (let u = t - CONTEXT; u <= t + CONTEXT; u++) {
      if (u < 0 || u >= meta.tokens || where[2 * u] !== where[2 * t]) continue;
      const s = piece(ids[u]!).replace(/▁/g, " ");
      parts.push(u === t ? `[${s.trim()}]` : s);
    }
    return parts.join("").replace(/\s+/g, " ").trim();
  };
  const labels: string[] = [];
  const examples: string[] = [];
  let unlabeled = 0;
  for (let latent = 0; latent < width; latent++) {
    const counts = new Map<string, number>();
    let best = -1;
    for (let s = 0; s < TOP; s++) {
      const t = topTok[latent * TOP + s]!;
      if (t < 0) continue;
      const w = piece(ids[t]!).replace(/▁/g, "").trim() || "␣";
      counts.set(w, (counts.get(w) ?? 0) + 1);
      if (best < 0 || topVal[latent * TOP + s]! > topVal[latent * TOP + best]!) best = s;
    }
    if (best < 0) {
      unlabeled++;
      labels.push("");
      examples.push("");
      continue;
    }
    labels.push([...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3).map(([w]) => w).join(" / "));
    examples.push(context(topTok[latent * TOP + best]!));
  }
  const out = { format: 1, source: `top ${TOP} activations per latent over ${limit} training tokens (${statesDir.split("/").pop()})`, labels, examples };
  await writeFile(join(saeDir, "labels.json"), JSON.stringify(out) + "\n");
  process.stderr.write(`\nlabels: ${width - unlabeled}/${width} latents labelled → ${join(saeDir, "labels.json")}\n`);
}

await main();
