// Runs the default pack's encoder over the mined retrieval pairs (train/py/mine_pairs.py) and
// stores the sparse head's input states (the pack's head layer) for the head trainer
// (train/py/train_head.py). Each text is read as the encoder reads it at search time (the
// pack's normalisation), cut to its first window: queries to QUERY_TOKENS, documents to the
// window size. Same layout as states.ts (shards, token-ids.i32, where.i32, meta.json), so
// labels.ts can label a head over these states, plus texts.i32: (first token, length) per text,
// text 2p the query and 2p + 1 the document of pair p.
//
//   node train/dist/pair-states.js [--pairs .cache/train/pairs.jsonl] [--out .cache/train/pair-states]
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder } from "@loupe/daemon/model/encoder";
import { cacheDir } from "@loupe/daemon/paths";
import { SHARD_TOKENS, type StatesMeta } from "./states-format.js";

/** Queries longer than this are cut: the head pools a query's strongest tokens, not its tail. */
const QUERY_TOKENS = 32;

const { values: args } = parseArgs({
  options: { pairs: { type: "string", default: ".cache/train/pairs.jsonl" }, out: { type: "string", default: ".cache/train/pair-states" } },
  strict: true,
});

async function main(): Promise<void> {
  const outDir = resolve(args.out);
  await mkdir(outDir, { recursive: true });
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const pack = await ensureDefaultPack({ cacheDir: cacheDir(), log });
  const encoder = await Encoder.open(pack, { provider: "auto", batchSize: 32, log });
  const layer = pack.manifest.sparseHead.layer;
  const kind = layer === 0 ? "layer0" : "layer1";
  const h = encoder.hiddenSize;
  const pairsText = await readFile(resolve(args.pairs), "utf8");
  const pairs = pairsText.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { q: string; d: string });
  const texts = pairs.flatMap((p) => [p.q, p.d]);

  const idsOut = createWriteStream(join(outDir, "token-ids.i32"));
  const whereOut = createWriteStream(join(outDir, "where.i32"));
  const spans = new Int32Array(texts.length * 2);
  let shard = new Float32Array(SHARD_TOKENS * h);
  let inShard = 0;
  let shards = 0;
  let total = 0;
  const flush = async () => {
    if (inShard === 0) return;
    await writeFile(join(outDir, `layer${layer}-${String(shards).padStart(4, "0")}.f32`), shard.subarray(0, inShard * h));
    shards++;
    inShard = 0;
    shard = new Float32Array(SHARD_TOKENS * h);
  };
  const started = Date.now();
  const GROUP = 512;
  for (let g = 0; g < texts.length; g += GROUP) {
    const group: number[][] = [];
    for (let t = g; t < Math.min(g + GROUP, texts.length); t++) {
      const first = encoder.windows(texts[t]!)[0] ?? [0];
      group.push(t % 2 === 0 ? first.slice(0, QUERY_TOKENS) : first);
    }
    const outputs = await encoder.runWindows(group, [kind]);
    const ids: number[] = [];
    const where: number[] = [];
    for (let w = 0; w < group.length; w++) {
      const win = group[w]!;
      spans[2 * (g + w)] = total;
      spans[2 * (g + w) + 1] = win.length;
      for (let t = 0; t < win.length; t++) {
        shard.set(outputs[w]![kind]!.subarray(t * h, (t + 1) * h), inShard * h);
        ids.push(win[t]!);
        where.push(g + w, t);
        inShard++;
        total++;
        if (inShard === SHARD_TOKENS) await flush();
      }
    }
    idsOut.write(Buffer.from(Int32Array.from(ids).buffer));
    whereOut.write(Buffer.from(Int32Array.from(where).buffer));
    const secs = (Date.now() - started) / 1000;
    process.stderr.write(`\rpair states: ${Math.min(g + GROUP, texts.length)}/${texts.length} texts, ${total} tokens, ${Math.round(total / secs)} tok/s`);
  }
  await flush();
  await Promise.all([new Promise((r) => idsOut.end(r)), new Promise((r) => whereOut.end(r))]);
  await writeFile(join(outDir, "texts.i32"), Buffer.from(spans.buffer));
  const meta: StatesMeta = {
    tokens: total, hidden: h, layers: [layer], shards, packFingerprint: pack.manifest.fingerprint,
    corpusSha256: createHash("sha256").update(pairsText).digest("hex"),
  };
  await writeFile(join(outDir, "meta.json"), JSON.stringify({ ...meta, texts: texts.length, queryTokens: QUERY_TOKENS, normalization: pack.manifest.textNormalization }, null, 2) + "\n");
  process.stderr.write(`\npair states: ${total} tokens of ${texts.length} texts in ${shards} shards (${Math.round((Date.now() - started) / 1000)} s) → ${outDir}\n`);
  await encoder.close();
}

await main();
