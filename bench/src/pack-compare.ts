// bench/pack-compare: two model packs' sparse encoders side by side on the same real texts:
// whether their vectors are identical (ids and weights, bit for bit) and their chunks per
// CPU-second, in alternating rounds on one thread pool, so machine noise hits both alike. Used
// to check a graph change that must not change a single output (e.g. pooling before the
// saturation) and to measure what it saves.
//
//   npm run bench:pack-compare -- --a PACK_DIR --b PACK_DIR --tree DIR [--texts 400] [--rounds 3] [--out FILE]
import { writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Encoder } from "@loupe/daemon/model/encoder";
import { loadPack } from "@loupe/daemon/model/pack";
import { chunkSizedTexts, machineInfo } from "./common.js";

const { values } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    tree: { type: "string" },
    texts: { type: "string", default: "400" },
    rounds: { type: "string", default: "3" },
    out: { type: "string", default: "bench/results/pack-compare.json" },
  },
});
if (!values.a || !values.b || !values.tree) throw new Error("--a PACK_DIR --b PACK_DIR --tree DIR are required");
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const N = Number(values.texts);
const loadAtStart = loadavg();

const texts = await chunkSizedTexts(resolve(values.tree), N);

const packs = { a: await loadPack(resolve(values.a)), b: await loadPack(resolve(values.b)) };
const enc = { a: await Encoder.open(packs.a, { batchSize: 8, graph: "sparse" }), b: await Encoder.open(packs.b, { batchSize: 8, graph: "sparse" }) };
const [va, vb] = [await enc.a.encodeSparse(texts, "document"), await enc.b.encodeSparse(texts, "document")];
const identical = va.filter((v, i) => v.ids.length === vb[i]!.ids.length && v.ids.every((x, j) => x === vb[i]!.ids[j]) && v.weights.every((x, j) => x === vb[i]!.weights[j])).length;
process.stderr.write(`identical vectors: ${identical} of ${texts.length}\n`);

const rates: Record<"a" | "b", number[]> = { a: [], b: [] };
for (let r = 0; r < Number(values.rounds); r++) {
  for (const k of ["a", "b"] as const) {
    const c0 = process.cpuUsage();
    await enc[k].encodeSparse(texts, "document");
    const c = process.cpuUsage(c0);
    rates[k].push(texts.length / ((c.user + c.system) / 1e6));
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const result = {
  bench: "pack-compare",
  a: { dir: packs.a.dir, version: packs.a.manifest.version, chunks_per_cpu_s: rates.a.map((x) => Math.round(x * 100) / 100) },
  b: { dir: packs.b.dir, version: packs.b.manifest.version, chunks_per_cpu_s: rates.b.map((x) => Math.round(x * 100) / 100) },
  texts: texts.length,
  identical_vectors: identical,
  chunks_per_cpu_s_ratio: Math.round((median(rates.b) / median(rates.a)) * 1000) / 1000,
  machine: machineInfo(loadAtStart),
  load_average_at_end: loadavg().map((x) => Math.round(x * 100) / 100),
};
await writeFile(resolve(REPO, values.out!), JSON.stringify(result, null, 2) + "\n");
process.stderr.write(`b/a chunks per CPU-second: ${result.chunks_per_cpu_s_ratio}; wrote ${values.out}\n`);
await enc.a.close();
await enc.b.close();
