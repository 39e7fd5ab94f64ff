// Runs the default pack's encoder over the training corpus and stores the token states of the
// configured layers as float32 shards, with each state's token id and origin (passage, token
// position) for latent labels. Windows do not overlap here, so every token is one state.
//
//   node train/dist/states.js [--config train/config/sae.json]
import { createWriteStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder } from "@loupe/daemon/model/encoder";
import { windows } from "@loupe/daemon/model/tokenizer";
import { cacheDir } from "@loupe/daemon/paths";
import { loadConfig } from "./common.js";
import { SHARD_TOKENS, type StatesMeta } from "./states-format.js";


async function main(): Promise<void> {
  const config = await loadConfig();
  const outDir = resolve(config.states.out);
  await mkdir(outDir, { recursive: true });
  const pack = await ensureDefaultPack({ cacheDir: cacheDir(), log: (l) => process.stderr.write(`${l}\n`) });
  const encoder = await Encoder.open(pack, { provider: "auto", batchSize: 32, log: (l) => process.stderr.write(`${l}\n`) });
  const corpusPath = resolve(config.corpus.out);
  const passages = (await readFile(corpusPath, "utf8")).split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text);
  const corpusManifest = JSON.parse(await readFile(corpusPath.replace(/\.jsonl$/, ".manifest.json"), "utf8")) as { corpusSha256: string };
  const h = encoder.hiddenSize;
  const layers = config.states.layers;
  const kinds = layers.map((l) => (l === 0 ? "layer0" : "layer1") as "layer0" | "layer1");

  const idsOut = createWriteStream(join(outDir, "token-ids.i32"));
  const whereOut = createWriteStream(join(outDir, "where.i32"));
  let shard = layers.map(() => new Float32Array(SHARD_TOKENS * h));
  let inShard = 0;
  let shards = 0;
  let total = 0;
  const flush = async () => {
    if (inShard === 0) return;
    await Promise.all(layers.map((l, i) => writeFile(join(outDir, `layer${l}-${String(shards).padStart(4, "0")}.f32`), shard[i]!.subarray(0, inShard * h))));
    shards++;
    inShard = 0;
    shard = layers.map(() => new Float32Array(SHARD_TOKENS * h));
  };

  const started = Date.now();
  const GROUP = 256;
  for (let p = 0; p < passages.length; p += GROUP) {
    const group: number[][] = [];
    const origin: Array<[number, number]> = [];
    for (let q = p; q < Math.min(p + GROUP, passages.length); q++) {
      let offset = 0;
      for (const w of windows(encoder.tokenize(encoder.encoderText(passages[q]!)), pack.manifest.maxTokens, 0)) {
        group.push(w);
        origin.push([q, offset]);
        offset += w.length;
      }
    }
    const outputs = await encoder.runWindows(group, kinds);
    const ids: number[] = [];
    const where: number[] = [];
    for (let w = 0; w < group.length; w++) {
      const win = group[w]!;
      for (let t = 0; t < win.length; t++) {
        layers.forEach((_, i) => shard[i]!.set(outputs[w]![kinds[i]!]!.subarray(t * h, (t + 1) * h), inShard * h));
        ids.push(win[t]!);
        where.push(origin[w]![0], origin[w]![1] + t);
        inShard++;
        total++;
        if (inShard === SHARD_TOKENS) await flush();
      }
    }
    idsOut.write(Buffer.from(Int32Array.from(ids).buffer));
    whereOut.write(Buffer.from(Int32Array.from(where).buffer));
    const secs = (Date.now() - started) / 1000;
    process.stderr.write(`\rstates: ${Math.min(p + GROUP, passages.length)}/${passages.length} passages, ${total} tokens, ${Math.round(total / secs)} tok/s`);
  }
  await flush();
  await Promise.all([new Promise((r) => idsOut.end(r)), new Promise((r) => whereOut.end(r))]);
  const meta: StatesMeta = { tokens: total, hidden: h, layers, shards, packFingerprint: pack.manifest.fingerprint, corpusSha256: corpusManifest.corpusSha256 };
  await writeFile(join(outDir, "meta.json"), JSON.stringify(meta, null, 2) + "\n");
  process.stderr.write(`\nstates: ${total} tokens in ${shards} shards (${Math.round((Date.now() - started) / 1000)} s) → ${outDir}\n`);
  await encoder.close();
}

await main();
