// bench/head-tradeoff: what a cheaper sparse head costs in quality, side by side with a
// reference pack (today's). For each head precision of the current converter (built into a
// temporary cache) and for the reference, it measures
//   - encoder chunks per CPU-second on chunk-sized texts of a real tree, in alternating rounds
//     (the reference and each head, so machine noise hits both alike), and
//   - nDCG@10 of the lexical, latent and hybrid channels on every given eval set, as
//     `loupe eval` computes them (index engine, default fusion).
// A set folder without a corpus.jsonl is a family (xquad-r): each subfolder is a set, and the
// family's row is the mean over its subsets (each subset is kept in the output too).
//
//   npm run bench:head-tradeoff -- --reference PACK_DIR --tree DIR --sets DIR[,DIR…] [--heads float,int8]
//        [--quality-heads int8] [--reuse PREVIOUS.json] [--texts 200] [--rounds 3] [--out bench/results/head-tradeoff.json]
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { readEvalSet } from "@loupe/daemon/eval/beir";
import { rankOnIndex, scoreRankings } from "@loupe/daemon/eval/run";
import type { HeadPrecision } from "@loupe/daemon/model/convert/sparse-head";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder } from "@loupe/daemon/model/encoder";
import { loadPack, type ModelPack } from "@loupe/daemon/model/pack";
import { chunkSizedTexts, machineInfo } from "./common.js";

const { values } = parseArgs({
  options: {
    reference: { type: "string" },
    tree: { type: "string" },
    sets: { type: "string" },
    heads: { type: "string", default: "float,int8" },
    /** Heads whose quality is measured (default: all); a head whose outputs equal the reference's up to float rounding need not be. */
    "quality-heads": { type: "string" },
    texts: { type: "string", default: "200" },
    rounds: { type: "string", default: "3" },
    out: { type: "string", default: "bench/results/head-tradeoff.json" },
    /** A previous result: a variant's rows for a set are taken from it when its pack has the same fingerprint (rankings are deterministic). */
    reuse: { type: "string" },
  },
});
if (!values.reference || !values.tree || !values.sets) throw new Error("--reference PACK_DIR --tree DIR --sets DIR[,DIR…] are required");
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const loadAtStart = loadavg();
const log = (line: string) => process.stderr.write(`${line}\n`);

const tree = resolve(values.tree);
const texts = await chunkSizedTexts(tree, Number(values.texts));

const cache = await mkdtemp(join(tmpdir(), "loupe-head-tradeoff-"));
const variants: Array<{ name: string; pack: ModelPack }> = [{ name: "reference", pack: await loadPack(resolve(values.reference)) }];
for (const head of values.heads!.split(",") as HeadPrecision[]) variants.push({ name: head, pack: await ensureDefaultPack({ cacheDir: cache, head, log }) });

// Speed: the reference against each head, alternating rounds, CPU time of this process (and
// wall time beside it). The reference runs as today's pipeline did: onnxruntime's threads
// spinning while they wait (its default); the heads with the encoder's shipped session options.
const speed: Record<string, { chunks_per_cpu_s: number[]; chunks_per_wall_s: number[]; ratio_to_reference: number; wall_ratio_to_reference: number }> = {};
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const round2 = (x: number) => Math.round(x * 100) / 100;
const rate = async (enc: Encoder): Promise<{ cpu: number; wall: number }> => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await enc.encodeSparse(texts, "document");
  const c = process.cpuUsage(c0);
  return { cpu: texts.length / ((c.user + c.system) / 1e6), wall: texts.length / ((performance.now() - t0) / 1000) };
};
const reference = await Encoder.open(variants[0]!.pack, { batchSize: 8, graph: "sparse", spinning: true });
await rate(reference); // warm-up
for (const v of variants.slice(1)) {
  const enc = await Encoder.open(v.pack, { batchSize: 8, graph: "sparse" });
  await rate(enc);
  const r: Array<{ cpu: number; wall: number }> = [], b: Array<{ cpu: number; wall: number }> = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    r.push(await rate(reference));
    b.push(await rate(enc));
  }
  const ratio = (key: "cpu" | "wall") => Math.round((median(b.map((x) => x[key])) / median(r.map((x) => x[key]))) * 1000) / 1000;
  speed[v.name] = { chunks_per_cpu_s: b.map((x) => round2(x.cpu)), chunks_per_wall_s: b.map((x) => round2(x.wall)), ratio_to_reference: ratio("cpu"), wall_ratio_to_reference: ratio("wall") };
  const ref = (speed.reference ??= { chunks_per_cpu_s: [], chunks_per_wall_s: [], ratio_to_reference: 1, wall_ratio_to_reference: 1 });
  ref.chunks_per_cpu_s.push(...r.map((x) => round2(x.cpu)));
  ref.chunks_per_wall_s.push(...r.map((x) => round2(x.wall)));
  log(`${v.name}: ${speed[v.name]!.ratio_to_reference}× the reference's chunks per CPU-second, ${speed[v.name]!.wall_ratio_to_reference}× per wall second`);
  await enc.close();
}
await reference.close();

// Quality: every set, every variant, from one encoding per (variant, set).
const setDirs: string[] = [];
for (const dir of values.sets.split(",").map((d) => resolve(d))) {
  if (existsSync(join(dir, "corpus.jsonl"))) setDirs.push(dir);
  else for (const sub of (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()) setDirs.push(join(dir, sub));
}
type Row = { lexical: number; latent: number; hybrid: number };
/** A set's name in the results: its path relative to the repository's parent (../shared/eval/… → shared/eval/…). */
const setName = (d: string) => (d.startsWith(resolve(REPO, "..")) ? d.slice(resolve(REPO, "..").length + 1) : d);
const quality: Record<string, Record<string, Row>> = {};
// Rows of a previous run, by pack fingerprint.
const previous = new Map<string, Record<string, Row>>();
if (values.reuse) {
  const old = JSON.parse(await readFile(resolve(values.reuse), "utf8")) as {
    reference: { fingerprint: string }; heads: Record<string, { fingerprint: string }>; sets: Record<string, Record<string, Row>>;
  };
  const fingerprints: Record<string, string> = { reference: old.reference.fingerprint, ...Object.fromEntries(Object.entries(old.heads).map(([k, v]) => [k, v.fingerprint])) };
  for (const [name, rows] of Object.entries(old.sets)) if (fingerprints[name]) previous.set(fingerprints[name]!, rows);
}
const qualityHeads = values["quality-heads"]?.split(",");
const measured = variants.filter((v) => v.name === "reference" || !qualityHeads || qualityHeads.includes(v.name));
for (const v of measured) {
  const encoder = await Encoder.open(v.pack, { provider: "cpu" });
  quality[v.name] = {};
  for (const dir of setDirs) {
    const reused = previous.get(v.pack.manifest.fingerprint)?.[setName(dir)];
    if (reused) {
      quality[v.name]![setName(dir)] = reused;
      continue;
    }
    const set = await readEvalSet(dir);
    const ranked = await rankOnIndex(set, { name: dir, mode: "hybrid", encoder }, 100);
    const row = { lexical: scoreRankings(set, ranked.lexical!)["ndcg@10"], latent: scoreRankings(set, ranked.latent!)["ndcg@10"], hybrid: scoreRankings(set, ranked.hybrid!)["ndcg@10"] };
    quality[v.name]![setName(dir)] = row;
    log(`${v.name} ${basename(dir)}: ${JSON.stringify(row)}`);
  }
  await encoder.close();
}

// One row per set as given (a family is the mean of its subsets), and the loss against the reference.
const groups = values.sets.split(",").map((d) => setName(resolve(d)));
const summary: Record<string, Record<string, Row & { hybrid_loss: number }>> = {};
for (const v of measured) {
  summary[v.name] = {};
  for (const g of groups) {
    const rows = Object.entries(quality[v.name]!).filter(([k]) => k === g || k.startsWith(`${g}/`)).map(([, r]) => r);
    const mean = (key: keyof Row) => Math.round((rows.reduce((a, r) => a + r[key], 0) / rows.length) * 10000) / 10000;
    const row = { lexical: mean("lexical"), latent: mean("latent"), hybrid: mean("hybrid") };
    summary[v.name]![g] = { ...row, hybrid_loss: 0 };
  }
}
for (const v of measured) for (const g of groups) summary[v.name]![g]!.hybrid_loss = Math.round((summary.reference![g]!.hybrid - summary[v.name]![g]!.hybrid) * 10000) / 10000;
const maxLoss = Object.fromEntries(measured.map((v) => [v.name, Math.max(...groups.map((g) => summary[v.name]![g]!.hybrid_loss))]));

const result = {
  bench: "head-tradeoff",
  date: new Date().toISOString(),
  reference: { dir: variants[0]!.pack.dir, version: variants[0]!.pack.manifest.version, fingerprint: variants[0]!.pack.manifest.fingerprint },
  heads: Object.fromEntries(variants.slice(1).map((v) => [v.name, { version: v.pack.manifest.version, fingerprint: v.pack.manifest.fingerprint }])),
  texts: texts.length,
  tree,
  reference_session: "onnxruntime's defaults as today's pipeline ran them (intra-op threads spin while waiting); heads: the encoder's shipped options (threads sleep)",
  // Rows taken from a previous result (same pack fingerprint) rather than measured in this run.
  quality_reused_from: values.reuse ?? null,
  speed,
  max_hybrid_ndcg10_loss: maxLoss,
  summary,
  sets: quality,
  machine: machineInfo(loadAtStart),
  load_average_at_end: loadavg().map((x) => Math.round(x * 100) / 100),
};
await writeFile(resolve(REPO, values.out!), JSON.stringify(result, null, 2) + "\n");
log(`wrote ${values.out}`);
await rm(cache, { recursive: true, force: true });
