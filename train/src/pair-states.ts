// Runs the default pack's encoder over the mined retrieval pairs (train/py/mine_pairs.py) and
// stores the sparse head's input states (the pack's head layer) for the head trainer
// (train/py/train_head.py). Each text is read as the encoder reads it at search time (the
// pack's normalisation), cut to its first window: queries to QUERY_TOKENS, documents to the
// window size. Same layout as states.ts (shards, token-ids.i32, where.i32, meta.json), so
// labels.ts can label a head over these states, plus texts.i32: (first token, length) per text,
// text 2p the query and 2p + 1 the document of pair p.
//
//   node train/dist/pair-states.js [--pairs .cache/train/pairs.jsonl] [--out .cache/train/pair-states] [--sae DIR]
// (--sae: build the pack with the head, and backbone adapter, in DIR instead of the shipped one;
// the states then come from that adapted backbone, which is what labels need after stage 3)
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder } from "@loupe/daemon/model/encoder";
import { cacheDir } from "@loupe/protocol";
import { StatesWriter, type StatesMeta } from "./states-format.js";

/** Queries longer than this are cut: the head pools a query's strongest tokens, not its tail. */
const QUERY_TOKENS = 32;

const { values: args } = parseArgs({
  options: {
    pairs: { type: "string", default: ".cache/train/pairs.jsonl" },
    out: { type: "string", default: ".cache/train/pair-states" },
    sae: { type: "string" },
  },
  strict: true,
});

async function main(): Promise<void> {
  const outDir = resolve(args.out);
  await mkdir(outDir, { recursive: true });
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const pack = await ensureDefaultPack({ cacheDir: cacheDir(), log, ...(args.sae ? { saeDir: resolve(args.sae) } : {}) });
  const encoder = await Encoder.open(pack, { provider: "auto", batchSize: 32, log });
  const layer = pack.manifest.sparseHead.layer;
  const kind = layer === 0 ? "layer0" : "layer1";
  const h = encoder.hiddenSize;
  const pairsText = await readFile(resolve(args.pairs), "utf8");
  const pairs = pairsText.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { q: string; d: string });
  const texts = pairs.flatMap((p) => [p.q, p.d]);

  const writer = new StatesWriter(outDir, [layer], h);
  const spans = new Int32Array(texts.length * 2);
  const started = Date.now();
  const GROUP = 512;
  for (let g = 0; g < texts.length; g += GROUP) {
    const group: number[][] = [];
    for (let t = g; t < Math.min(g + GROUP, texts.length); t++) {
      const first = encoder.windows(texts[t]!)[0] ?? [0];
      group.push(t % 2 === 0 ? first.slice(0, QUERY_TOKENS) : first);
    }
    const outputs = await encoder.runWindows(group, [kind]);
    for (let w = 0; w < group.length; w++) {
      spans[2 * (g + w)] = writer.tokens;
      spans[2 * (g + w) + 1] = group[w]!.length;
      await writer.addWindow([outputs[w]![kind]!], group[w]!, g + w, 0);
    }
    const secs = (Date.now() - started) / 1000;
    process.stderr.write(`\rpair states: ${Math.min(g + GROUP, texts.length)}/${texts.length} texts, ${writer.tokens} tokens, ${Math.round(writer.tokens / secs)} tok/s`);
  }
  await writer.close();
  await writeFile(join(outDir, "texts.i32"), Buffer.from(spans.buffer));
  const meta: StatesMeta = {
    tokens: writer.tokens, hidden: h, layers: [layer], shards: writer.shards, packFingerprint: pack.manifest.fingerprint,
    corpusSha256: createHash("sha256").update(pairsText).digest("hex"),
  };
  await writeFile(join(outDir, "meta.json"), JSON.stringify({ ...meta, texts: texts.length, queryTokens: QUERY_TOKENS, normalization: pack.manifest.textNormalization }, null, 2) + "\n");
  process.stderr.write(`\npair states: ${writer.tokens} tokens of ${texts.length} texts in ${writer.shards} shards (${Math.round((Date.now() - started) / 1000)} s) → ${outDir}\n`);
  await encoder.close();
}

await main();
