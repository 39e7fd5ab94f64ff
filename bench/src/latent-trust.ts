// bench/latent-trust: what trusting the latent channel by the share of a query the encoder can
// read does, on whole eval sets. Each set is encoded and indexed once (the index engine, as
// `loupe eval` runs it); lexical, latent, hybrid as shipped (trust = the query's readable share,
// search/fusion.ts) and hybrid with full trust (the fusion before the rule) are scored from the
// same rankings, so the before/after is measured side by side.
//
//   node bench/dist/latent-trust.js --sets DIR[,DIR…] [--out bench/results/latent-trust.json]
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readEvalSet } from "@loupe/daemon/eval/beir";
import { rankOnIndex, scoreRankings } from "@loupe/daemon/eval/run";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder } from "@loupe/daemon/model/encoder";
import { readableShare } from "@loupe/daemon/analysis/scripts";
import { fileKind } from "@loupe/daemon/file-types";
import { DEFAULT_FUSION, fuse } from "@loupe/daemon/search/fusion";
import { cacheDir } from "@loupe/protocol";

const { values } = parseArgs({
  options: {
    sets: { type: "string" },
    out: { type: "string", default: "bench/results/latent-trust.json" },
  },
});
if (!values.sets) throw new Error("--sets DIR[,DIR…] is required");

const pack = await ensureDefaultPack({ cacheDir: cacheDir() });
const encoder = await Encoder.open(pack, { provider: "cpu" });
const scripts = encoder.readableScripts;
const ndcg = (set: Awaited<ReturnType<typeof readEvalSet>>, r: Parameters<typeof scoreRankings>[1]) => scoreRankings(set, r)["ndcg@10"];
const rows: Record<string, { lexical: number; latent: number; hybridFullTrust: number; hybrid: number; meanTrust: number; queries: number }> = {};
for (const dir of values.sets.split(",")) {
  const set = await readEvalSet(resolve(dir));
  const started = performance.now();
  const r = await rankOnIndex(set, { name: dir, mode: "hybrid", encoder }, 100);
  const kindOf = (doc: number) => fileKind(`doc.${set.docs[doc]!.ext ?? ""}`);
  const trust = set.queries.map((q) => readableShare(q.text, scripts));
  const full = set.queries.map((_, i) => fuse(r.lexical![i]!, r.latent![i]!, 100, DEFAULT_FUSION, kindOf));
  const name = dir.split("/").filter(Boolean).slice(-2).join("/");
  rows[name] = {
    lexical: ndcg(set, r.lexical!),
    latent: ndcg(set, r.latent!),
    hybridFullTrust: ndcg(set, full),
    hybrid: ndcg(set, r.hybrid!),
    meanTrust: Math.round((1e4 * trust.reduce((a, b) => a + b, 0)) / trust.length) / 1e4,
    queries: set.queries.length,
  };
  process.stderr.write(`${name}: ${JSON.stringify(rows[name])} (${Math.round((performance.now() - started) / 1000)} s)\n`);
}
await encoder.close();

const pairs = Object.keys(rows).filter((n) => /xquad-r\/[a-z]{2}-[a-z]{2}$/.test(n));
const xToEn = pairs.filter((n) => n.endsWith("-en") && !n.endsWith("en-en"));
const mean = (names: string[], key: "hybrid" | "hybridFullTrust" | "lexical") => Math.round((1e4 * names.reduce((a, n) => a + rows[n]![key], 0)) / Math.max(names.length, 1)) / 1e4;
const worst = (key: "hybrid" | "hybridFullTrust") => Object.entries(rows).map(([n, r]) => ({ set: n, delta: Math.round(1e4 * (r[key] - r.lexical)) / 1e4 })).sort((a, b) => a.delta - b.delta)[0];
const result = {
  bench: "latent-trust",
  date: new Date().toISOString(),
  pack: { name: pack.manifest.name, fingerprint: pack.manifest.fingerprint },
  readableScripts: [...scripts],
  summary: {
    xToEnMean: { lexical: mean(xToEn, "lexical"), hybridFullTrust: mean(xToEn, "hybridFullTrust"), hybrid: mean(xToEn, "hybrid") },
    worstHybridMinusLexical: { fullTrust: worst("hybridFullTrust"), shipped: worst("hybrid") },
  },
  sets: rows,
};
await mkdir(dirname(resolve(values.out!)), { recursive: true });
await writeFile(resolve(values.out!), JSON.stringify(result, null, 2) + "\n");
process.stderr.write(`${JSON.stringify(result.summary)}\nwritten to ${values.out}\n`);
