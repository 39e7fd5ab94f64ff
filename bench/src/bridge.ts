// bench/bridge: what the bridge across languages (daemon/src/analysis/bridge.ts) does, on whole
// eval sets, side by side in one run. Each set is encoded once per analyzer and ranked on the
// index engine as `loupe eval` runs it, before (PLAIN: the analyzer alone) and after (the
// shipped bridge), in all three channels. From the same rankings, side by side: trust rules for
// translated questions (`trustGrid`) and per chunk (`chunkTrustGrid`, search/fusion.ts
// chunkTrust). Also measured: the tables' size, the cost of loading them, of translating a
// question and of analysing a note with and without the bridge.
//
//   node bench/dist/bridge.js --sets DIR[,DIR…] [--out bench/results/bridge.json] [--stems on|off]
import { mkdir, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BRIDGE, Bridge, forEncoder, PLAIN, questionGlossedFrom, questionTrust, type LexicalAnalyzer } from "@loupe/daemon/analysis/bridge";
import { fileKind } from "@loupe/daemon/file-types";
import { chunkTrust, DEFAULT_FUSION, fuse } from "@loupe/daemon/search/fusion";
import { docText, readEvalSet, type EvalSet } from "@loupe/daemon/eval/beir";
import { rankOnIndex, scoreRankings } from "@loupe/daemon/eval/run";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder } from "@loupe/daemon/model/encoder";
import { packReads } from "@loupe/daemon/model/pack";
import { cacheDir } from "@loupe/protocol";

const { values } = parseArgs({
  options: {
    sets: { type: "string" },
    out: { type: "string", default: "bench/results/bridge.json" },
    /** Measure the bridge with its stem terms on or off instead of as shipped (BRIDGE.stems). */
    stems: { type: "string" },
  },
});
if (!values.sets) throw new Error("--sets DIR[,DIR…] is required");

const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
const ms = (t0: number) => round(performance.now() - t0, 1);

// Cost of the bridge itself, before anything else is loaded.
const heap0 = process.memoryUsage();
let t0 = performance.now();
const bridge = await Bridge.open(undefined, values.stems === undefined ? {} : { stems: values.stems === "on" });
const openMs = ms(t0);
const tables: Record<string, { keys: number; gzipBytes: number; loadMs: number }> = {};
for (const lang of bridge.languages) {
  t0 = performance.now();
  bridge.translate(lang, "x");
  tables[lang] = { keys: bridge.manifest.languages[lang]!.keys, gzipBytes: bridge.manifest.languages[lang]!.bytes, loadMs: ms(t0) };
}
const heap1 = process.memoryUsage();

const pack = await ensureDefaultPack({ cacheDir: cacheDir() });
const encoder = await Encoder.open(pack, { provider: "cpu" });
type Channels = { lexical: number; latent: number; hybrid: number; trustGrid?: Record<string, number>; chunkTrustGrid?: Record<string, number>; meanCoverage?: number };
/**
 * The trust rule for translated questions (questionTrust: glossTrust × coverage^power), every
 * pair of these scored side by side from the same rankings ("g×c^p"), each with the shipped
 * per-chunk trust.
 */
const GLOSS_TRUST = [1, 0.75, 0.5, 0.25];
const COVERAGE_POWER = [0, 1, 2, 4, 8];
type Reading = NonNullable<Awaited<ReturnType<typeof rankOnIndex>>["readings"]>[number];
/**
 * Per-chunk trust rules (search/fusion.ts chunkTrust is "shipped"), side by side from the same
 * rankings, each times the shipped question trust, for both analyzers (without the bridge, no
 * chunk is glossed: there they show what the rules do to languages without a table). `same×s`:
 * a note glossed from the question's gloss language gets s, every other chunk 1; "+ readable":
 * a chunk read as written gets its readable share, for every question ("all") or for
 * translated ones only ("translated"); `none`: every chunk 1 (the rule before chunks recorded
 * their reading).
 */
const same = (s: number) => (c: Reading, q: string | undefined) => (c.glossedFrom !== undefined && c.glossedFrom === q ? s : 1);
const CHUNK_TRUST: Record<string, (c: Reading, question: string | undefined) => number> = {
  none: () => 1,
  shipped: chunkTrust,
  "same×0.25": same(0.25),
  "same×0.5": same(0.5),
  "same×0.75": same(0.75),
  "same×0": same(0),
  "same×0 + readable (all)": (c, q) => (c.glossedFrom !== undefined ? (c.glossedFrom === q ? 0 : 1) : (c.readable ?? 1)),
  "readable (all)": (c) => (c.glossedFrom !== undefined ? 1 : (c.readable ?? 1)),
};
const rows: Record<string, { before: Channels; after: Channels; queries: number; translatedQueries: number; queryMs: number; chunkMsPerDoc: { plain: number; bridged: number }; termsPerDoc: { plain: number; bridged: number } }> = {};
const scores = async (set: EvalSet, dir: string, lexical: LexicalAnalyzer): Promise<Channels> => {
  const r = await rankOnIndex(set, { name: dir, mode: "hybrid", encoder, lexical }, 100);
  const n = (x: Parameters<typeof scoreRankings>[1]) => scoreRankings(set, x)["ndcg@10"];
  const out: Channels = { lexical: n(r.lexical!), latent: n(r.latent!), hybrid: n(r.hybrid!) };
  const kindOf = (doc: number) => fileKind(`doc.${set.docs[doc]!.ext ?? ""}`);
  const reads = packReads(encoder.pack.manifest);
  const bridged = set.queries.map((q) => forEncoder(lexical.query(q.text), reads));
  const readings = r.readings!;
  const ranked = (latentTrust: (i: number) => number, documentTrust: (c: Reading, question: string | undefined) => number) =>
    n(set.queries.map((_, i) => fuse(r.lexical![i]!, r.latent![i]!, 100, DEFAULT_FUSION, kindOf, undefined, {
      latentTrust: latentTrust(i),
      documentTrust: (doc) => documentTrust(readings[doc]!, questionGlossedFrom(bridged[i]!)),
    })));
  const shippedQuestion = (i: number) => questionTrust(set.queries[i]!.text, bridged[i]!, encoder.readableScripts);
  out.chunkTrustGrid = Object.fromEntries(Object.entries(CHUNK_TRUST).map(([name, rule]) => [name, ranked(shippedQuestion, rule)]));
  if (lexical === PLAIN) return out;
  out.trustGrid = Object.fromEntries(GLOSS_TRUST.flatMap((g) => COVERAGE_POWER.map((p) => [`${g}×c^${p}`, ranked((i) => questionTrust(set.queries[i]!.text, bridged[i]!, encoder.readableScripts, g, p), chunkTrust)])));
  out.meanCoverage = round(bridged.reduce((a, b) => a + b.coverage, 0) / bridged.length);
  return out;
};
for (const dir of values.sets.split(",")) {
  const set = await readEvalSet(resolve(dir));
  const started = performance.now();
  const before = await scores(set, dir, PLAIN);
  const after = await scores(set, dir, bridge);
  t0 = performance.now();
  const translated = set.queries.filter((q) => bridge.query(q.text).gloss !== undefined).length;
  const queryMs = round(ms(t0) / set.queries.length, 3);
  const docs = set.docs.slice(0, 2000).map(docText);
  let plainTerms = 0;
  let bridgedTerms = 0;
  t0 = performance.now();
  for (const d of docs) plainTerms += PLAIN.chunk("", d, true).length;
  const plain = round(ms(t0) / docs.length, 3);
  t0 = performance.now();
  for (const d of docs) bridgedTerms += bridge.chunk("", d, true).length;
  const bridged = round(ms(t0) / docs.length, 3);
  const name = dir.split("/").filter(Boolean).slice(-2).join("/");
  rows[name] = { before, after, queries: set.queries.length, translatedQueries: translated, queryMs, chunkMsPerDoc: { plain, bridged }, termsPerDoc: { plain: round(plainTerms / docs.length, 1), bridged: round(bridgedTerms / docs.length, 1) } };
  process.stderr.write(`${name}: ${JSON.stringify(rows[name])} (${Math.round((performance.now() - started) / 1000)} s)\n`);
}
await encoder.close();

const names = Object.keys(rows);
const pairs = names.filter((n) => /xquad-r\/[a-z]{2}-[a-z]{2}$/.test(n));
const xToEn = pairs.filter((n) => n.endsWith("-en") && !n.endsWith("en-en"));
const enToX = pairs.filter((n) => n.includes("/en-") && !n.endsWith("en-en"));
const mono = pairs.filter((n) => { const [q, d] = n.split("/").pop()!.split("-"); return q === d; });
const mean = (set: string[], when: "before" | "after", ch: "lexical" | "latent" | "hybrid") => round(set.reduce((a, n) => a + rows[n]![when][ch], 0) / Math.max(set.length, 1));
/** Each rule of a grid over the sets: the X→en, en→X and mono means, and the sets where it falls below lexical. */
const grid = (which: "trustGrid" | "chunkTrustGrid", when: "before" | "after" = "after") => Object.fromEntries(Object.keys(rows[names[0]!]![when][which] ?? {}).map((key) => [key, {
  xToEnMean: round(xToEn.reduce((a, n) => a + rows[n]![when][which]![key]!, 0) / Math.max(xToEn.length, 1)),
  enToXMean: round(enToX.reduce((a, n) => a + rows[n]![when][which]![key]!, 0) / Math.max(enToX.length, 1)),
  monoMean: round(mono.reduce((a, n) => a + rows[n]![when][which]![key]!, 0) / Math.max(mono.length, 1)),
  belowLexical: names.map((n) => ({ set: n, delta: round(rows[n]![when][which]![key]! - rows[n]![when].lexical) })).filter((d) => d.delta < 0),
}]));
const summary = {
  xToEnMean: { lexicalBefore: mean(xToEn, "before", "lexical"), hybridBefore: mean(xToEn, "before", "hybrid"), lexicalAfter: mean(xToEn, "after", "lexical"), hybridAfter: mean(xToEn, "after", "hybrid") },
  enToXMean: { hybridBefore: mean(enToX, "before", "hybrid"), hybridAfter: mean(enToX, "after", "hybrid") },
  worstHybridMinusLexical: names.map((n) => ({ set: n, delta: round(rows[n]!.after.hybrid - rows[n]!.after.lexical) })).sort((a, b) => a.delta - b.delta)[0],
  worstMonoOrOtherDrop: names.filter((n) => !xToEn.includes(n) && !enToX.includes(n)).map((n) => ({ set: n, delta: round(rows[n]!.after.hybrid - rows[n]!.before.hybrid) })).sort((a, b) => a.delta - b.delta)[0],
  monoCount: mono.length,
  trustGrid: grid("trustGrid"),
  chunkTrustGrid: grid("chunkTrustGrid"),
  /** The same rules without the bridge: what they do to languages without a table. */
  chunkTrustGridBefore: grid("chunkTrustGrid", "before"),
};
const result = {
  bench: "bridge",
  date: new Date().toISOString(),
  pack: { name: pack.manifest.name, fingerprint: pack.manifest.fingerprint },
  bridge: {
    constants: { ...BRIDGE, ...(values.stems === undefined ? {} : { stems: values.stems === "on" }) },
    tablesVersion: bridge.manifest.version,
    openMs,
    tables,
    gzipBytesTotal: Object.values(tables).reduce((a, t) => a + t.gzipBytes, 0),
    heapMBAfterLoadingAll: round((heap1.heapUsed + heap1.external + heap1.arrayBuffers - heap0.heapUsed - heap0.external - heap0.arrayBuffers) / 1e6, 1),
    rssMBAfterLoadingAll: round((heap1.rss - heap0.rss) / 1e6, 1),
    nodeVersion: process.version,
    cpu: readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown",
  },
  summary,
  sets: rows,
};
await mkdir(dirname(resolve(values.out!)), { recursive: true });
await writeFile(resolve(values.out!), JSON.stringify(result, null, 2) + "\n");
process.stderr.write(`${JSON.stringify(summary)}\nwritten to ${values.out}\n`);
