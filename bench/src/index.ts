// bench/index: the on-disk index at workspace scale and beyond, on synthetic chunks shaped like
// real ones: LATENTS latents per chunk drawn without replacement from a Zipf distribution over
// SPACE latents (a few latents fire on most chunks, most on few, as SAE latents do), weights
// like log1p(ReLU(z)); WORDS lexical terms per chunk from a Zipf vocabulary; queries of the
// default pack's query Top-K latents (DEFAULT_TOP_K.query) from the same distribution (they hit
// the long lists: the hard case).
//
// For each size, in one run and side by side: query latency p50/p99 with pruning (MaxScore +
// block-max), without pruning (every posting of every query term), and a brute-force scorer
// that dots the query with every chunk's vector; build throughput; bytes per chunk on disk; RSS
// of a fresh process after opening the index. Queries run in that fresh process, so its RSS
// and timings do not carry the builder's garbage. Also checks that pruned and unpruned top-10s
// are identical, and reports how many of the float brute force's top 10 the quantised index
// returns (the quality cost of uint8 impacts on this data).
//
//   node bench/dist/index.js [--sizes 10000,100000,1000000] [--shape independent|idf] [--queries 200]
//        [--brute-queries 20] [--dir TMP] [--out bench/results/index.json] [--replot]
// Rows of other sizes and shapes already in --out are kept, so sizes can be run one at a time.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile, readFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { FsDirectory } from "@loupe/daemon/index/directory";
import { Index } from "@loupe/daemon/index/index";
import { latentTerm, lexicalTerm, type QueryTerm } from "@loupe/daemon/index/terms";
import { DEFAULT_TOP_K } from "@loupe/daemon/model/default-pack";
import { topK } from "@loupe/daemon/search/topk";
import { rng } from "./common.js";

const SPACE = 32_768;
const LATENTS = 400;
const QUERY_LATENTS = DEFAULT_TOP_K.query;
const VOCAB = 50_000;
const WORDS = 30;
const QUERY_WORDS = 4;
const K = 10;
const OPTS = { pack: "sha256:bench", analyzer: 1, maxBufferedDocs: 100_000 };

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "10000,100000,1000000" },
    queries: { type: "string", default: "200" },
    "brute-queries": { type: "string", default: "20" },
    dir: { type: "string" },
    out: { type: "string", default: "bench/results/index.json" },
    child: { type: "string" },
    replot: { type: "boolean" },
    // independent: a latent's weights do not depend on how common it is (a hard case for
    // pruning); idf: common latents weigh less, as sparse retrieval heads are often assumed to
    // learn (the shipped head does the opposite: docs/benchmarks.md).
    shape: { type: "string", default: "independent" },
  },
});

/** Vose's alias table for O(1) draws from p(r) ∝ 1 / (r + 1)^s; `rankOf[id]` is each id's frequency rank. */
function zipf(n: number, s: number, random: () => number, rankOf?: Int32Array): () => number {
  const p = Float64Array.from({ length: n }, (_, r) => 1 / Math.pow(r + 1, s));
  const total = p.reduce((a, b) => a + b, 0);
  const prob = new Float64Array(n), alias = new Int32Array(n);
  const scaled = Float64Array.from(p, (x) => (x / total) * n);
  const small: number[] = [], large: number[] = [];
  scaled.forEach((x, i) => (x < 1 ? small : large).push(i));
  while (small.length && large.length) {
    const l = small.pop()!, g = large.pop()!;
    prob[l] = scaled[l]!;
    alias[l] = g;
    scaled[g] = scaled[g]! + scaled[l]! - 1;
    (scaled[g]! < 1 ? small : large).push(g);
  }
  for (const i of [...small, ...large]) prob[i] = 1;
  // Scramble ranks so frequent latents are spread over the id space, as in a trained SAE.
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
  if (rankOf) perm.forEach((id, r) => (rankOf[id] = r));
  return () => {
    const i = Math.floor(random() * n);
    return perm[random() < prob[i]! ? i : alias[i]!]!;
  };
}

/** A chunk's latents: `count` distinct draws, sorted, with log1p-of-exponential weights. */
function drawLatents(draw: () => number, random: () => number, count: number, seen: Int32Array, stamp: number, scale: Float32Array): { ids: Uint32Array; weights: Float32Array } {
  const ids = new Uint32Array(count);
  for (let i = 0; i < count; ) {
    const id = draw();
    if (seen[id] === stamp) continue;
    seen[id] = stamp;
    ids[i++] = id;
  }
  ids.sort();
  const weights = Float32Array.from(ids, (id) => Math.fround(scale[id]! * Math.log1p(-Math.log(1 - random()) * 2)));
  return { ids, weights };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

interface ChildResult {
  rss_mb: number;
  open_ms: number;
  segments: number;
  p50_ms: number; p99_ms: number;
  noprune_p50_ms: number; noprune_p99_ms: number;
  mixed_p50_ms: number; mixed_p99_ms: number;
  top: number[][];
  identical: boolean;
}

// The query process: open, measure RSS, time the strategies in alternating order.
async function child(dir: string, queryFile: string): Promise<void> {
  const queries = JSON.parse(await readFile(queryFile, "utf8")) as { latent: QueryTerm[][]; mixed: QueryTerm[][] };
  const t0 = performance.now();
  const index = await Index.open(await FsDirectory.open(dir), OPTS);
  const s = index.searcher();
  const openMs = performance.now() - t0;
  globalThis.gc?.();
  const rss = process.memoryUsage().rss / 2 ** 20;
  // Warm up: the dictionary and BM25 norms are built on first use.
  for (const q of queries.latent.slice(0, 5)) { s.search(q, K); s.search(q, K, { strategy: "exhaustive" }); }
  for (const q of queries.mixed.slice(0, 5)) s.search(q, K);
  const pruned: number[] = [], full: number[] = [], mixed: number[] = [];
  const top: number[][] = [];
  let identical = true;
  for (let i = 0; i < queries.latent.length; i++) {
    const q = queries.latent[i]!;
    let t = performance.now();
    const a = s.search(q, K);
    pruned.push(performance.now() - t);
    t = performance.now();
    const b = s.search(q, K, { strategy: "exhaustive" });
    full.push(performance.now() - t);
    t = performance.now();
    s.search(queries.mixed[i]!, K);
    mixed.push(performance.now() - t);
    if (a.map((h) => h.doc).join() !== b.map((h) => h.doc).join()) identical = false;
    top.push(a.map((h) => h.doc));
  }
  for (const l of [pruned, full, mixed]) l.sort((x, y) => x - y);
  const result: ChildResult = {
    rss_mb: round(rss, 1), open_ms: round(openMs, 1), segments: s.segments.length,
    p50_ms: round(percentile(pruned, 50)), p99_ms: round(percentile(pruned, 99)),
    noprune_p50_ms: round(percentile(full, 50)), noprune_p99_ms: round(percentile(full, 99)),
    mixed_p50_ms: round(percentile(mixed, 50)), mixed_p99_ms: round(percentile(mixed, 99)),
    top, identical,
  };
  process.stdout.write(JSON.stringify(result));
}

async function run(size: number, root: string, nQueries: number, nBrute: number): Promise<Record<string, unknown>> {
  const dir = join(root, `n${size}`);
  await rm(dir, { recursive: true, force: true });
  const random = rng(size);
  const rankOf = new Int32Array(SPACE);
  const drawLatent = zipf(SPACE, 1.0, random, rankOf);
  // Weight multiplier per latent: 1 (independent), or rising with rarity like an idf (idf).
  const scale = Float32Array.from(rankOf, (r) => (values.shape === "idf" ? 0.1 + (0.9 * Math.log1p(r)) / Math.log1p(SPACE) : 1));
  const drawWord = zipf(VOCAB, 1.0, random);
  const seen = new Int32Array(SPACE).fill(-1);
  // Forward vectors for the brute-force scorer: u16 ids and f32 weights (≈ 2.4 GB at 1M).
  const fwdIds = new Uint16Array(size * LATENTS);
  const fwdW = new Float32Array(size * LATENTS);
  const index = await Index.open(await FsDirectory.open(dir), OPTS);
  let buildMs = 0;
  const rssBefore = process.memoryUsage().rss;
  for (let n = 0; n < size; n++) {
    const v = drawLatents(drawLatent, random, LATENTS, seen, n, scale);
    fwdIds.set(v.ids, n * LATENTS);
    fwdW.set(v.weights, n * LATENTS);
    const words = Array.from({ length: WORDS }, () => `w${drawWord()}`);
    const chunk = {
      path: `src/m${n % 997}/f${Math.floor(n / 8)}.ts`, startLine: 1 + (n % 8) * 40, endLine: 40 + (n % 8) * 40,
      symbol: `fn${n}`, hash: n.toString(16).padStart(16, "0"), root: "/ws", language: n % 5 === 0 ? "markdown" : "typescript",
      lexical: words, latent: v,
    };
    const t = performance.now();
    await index.add(chunk);
    buildMs += performance.now() - t;
    if ((n + 1) % 100_000 === 0) process.stderr.write(`  ${size}: added ${n + 1}\n`);
  }
  let t = performance.now();
  await index.commit();
  buildMs += performance.now() - t;
  t = performance.now();
  const merges = await index.merge();
  const mergeMs = performance.now() - t;
  const builderRss = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  let bytes = 0, postBytes = 0;
  for (const f of await readdir(dir)) {
    const b = (await stat(join(dir, f))).size;
    bytes += b;
    if (f.endsWith(".post")) postBytes += b;
  }

  const qrandom = rng(size + 1);
  const latent: QueryTerm[][] = [], mixed: QueryTerm[][] = [], raw: Array<{ ids: Uint32Array; weights: Float32Array }> = [];
  for (let i = 0; i < nQueries; i++) {
    const v = drawLatents(drawLatent, qrandom, QUERY_LATENTS, seen, size + i, scale);
    raw.push(v);
    const terms = Array.from(v.ids, (id, j) => ({ term: latentTerm(id), weight: v.weights[j]! }));
    latent.push(terms);
    mixed.push([...terms, ...Array.from({ length: QUERY_WORDS }, () => ({ term: lexicalTerm(`w${drawWord()}`), weight: 1 }))]);
  }
  const queryFile = join(root, `queries-${size}.json`);
  await writeFile(queryFile, JSON.stringify({ latent, mixed }));
  const self = fileURLToPath(import.meta.url);
  await index.close(); // the query process opens the folder: one writer at a time
  const out = execFileSync(process.execPath, ["--expose-gc", self, "--child", dir, "--out", queryFile], { maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "inherit"] });
  const c = JSON.parse(out.toString()) as ChildResult;

  // Brute force: every chunk's forward vector dotted with a dense query, float weights.
  const dense = new Float32Array(SPACE);
  const brute: number[] = [];
  let overlap = 0;
  for (let i = 0; i < Math.min(nBrute, nQueries); i++) {
    const v = raw[i]!;
    dense.fill(0);
    v.ids.forEach((id, j) => (dense[id] = v.weights[j]!));
    const t0 = performance.now();
    const scores = new Float64Array(size);
    for (let d = 0, p = 0; d < size; d++) {
      let s = 0;
      for (const end = p + LATENTS; p < end; p++) s += dense[fwdIds[p]!]! * fwdW[p]!;
      scores[d] = s;
    }
    const best = topK(scores, K, 0).map((h) => h.doc);
    brute.push(performance.now() - t0);
    const got = new Set(c.top[i]);
    overlap += best.filter((d) => got.has(d)).length / K;
  }
  brute.sort((a, b) => a - b);
  const bruteP50 = percentile(brute, 50);
  const row = {
    chunks: size,
    weights: values.shape,
    query_latents: QUERY_LATENTS,
    p50_ms: c.p50_ms, p99_ms: c.p99_ms,
    noprune_p50_ms: c.noprune_p50_ms, noprune_p99_ms: c.noprune_p99_ms,
    bruteforce_p50_ms: round(bruteP50), bruteforce_p99_ms: round(percentile(brute, 99)),
    speedup_vs_bruteforce: round(bruteP50 / c.p50_ms, 1), speedup_vs_noprune: round(c.noprune_p50_ms / c.p50_ms, 1),
    mixed_p50_ms: c.mixed_p50_ms, mixed_p99_ms: c.mixed_p99_ms,
    pruned_equals_noprune: c.identical,
    recall_at_10_vs_float: round(overlap / Math.min(nBrute, nQueries), 4),
    bytes_per_chunk: Math.round(bytes / size), postings_bytes_per_chunk: Math.round(postBytes / size),
    build_chunks_per_s: Math.round(size / (buildMs / 1000)), merge_s: round(mergeMs / 1000, 1), merges,
    segments: c.segments, rss_after_open_mb: c.rss_mb, open_ms: c.open_ms, builder_rss_growth_mb: Math.round(builderRss),
    queries: nQueries, bruteforce_queries: brute.length,
  };
  process.stderr.write(JSON.stringify(row) + "\n");
  return row;
}

if (values.child) {
  await child(values.child, values.out);
} else if (values.replot) {
  // Redraws the plot from the results file without measuring anything.
  const out = resolve(values.out);
  await writeFile(out.replace(/\.json$/, ".svg"), plot(JSON.parse(await readFile(out, "utf8")) as Array<Record<string, unknown>>));
} else {
  const root = values.dir ?? (await mkdtemp(join(tmpdir(), "loupe-bench-index-")));
  const rows: Array<Record<string, unknown>> = [];
  for (const size of values.sizes.split(",").map(Number)) {
    rows.push(await run(size, root, Number(values.queries), Number(values["brute-queries"])));
    await rm(join(root, `n${size}`), { recursive: true, force: true });
  }
  if (!values.dir) await rm(root, { recursive: true, force: true });
  const out = resolve(values.out);
  await mkdir(dirname(out), { recursive: true });
  // Earlier rows of other sizes are kept, so sizes can be run one at a time.
  let previous: Array<Record<string, unknown>> = [];
  try { previous = JSON.parse(await readFile(out, "utf8")) as Array<Record<string, unknown>>; } catch { /* first run */ }
  const merged = [...previous.filter((r) => !rows.some((n) => n.chunks === r.chunks && n.weights === r.weights)), ...rows].sort((a, b) => String(a.weights).localeCompare(String(b.weights)) || (a.chunks as number) - (b.chunks as number));
  const meta = { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, date: new Date().toISOString().slice(0, 10) };
  await writeFile(out, JSON.stringify(merged.map((r) => ({ ...r, ...(rows.includes(r) ? meta : {}) })), null, 2) + "\n");
  await writeFile(out.replace(/\.json$/, ".svg"), plot(merged));
  process.stderr.write(`wrote ${out}\n`);
}

/** Query latency (log scale) against index size (log scale): one line per strategy and weight shape (idf dashed). */
function plot(rows: Array<Record<string, unknown>>): string {
  const W = 560, H = 340, L = 60, R = 190, T = 24, B = 45;
  const series: Array<[string, string, string]> = [["p50_ms", "pruned p50", "#1f77b4"], ["p99_ms", "pruned p99", "#9ecae1"], ["noprune_p50_ms", "no pruning p50", "#ff7f0e"], ["bruteforce_p50_ms", "brute force p50", "#d62728"]];
  const shapes = [...new Set(rows.map((r) => String(r.weights)))];
  const xs = rows.map((r) => Math.log10(r.chunks as number));
  const ys = rows.flatMap((r) => series.map(([k]) => Math.log10(Math.max(1e-3, r[k] as number))));
  const [x0, x1] = [Math.min(...xs) - 0.1, Math.max(...xs) + 0.1];
  const [y0, y1] = [Math.floor(Math.min(...ys)), Math.ceil(Math.max(...ys))];
  const px = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  for (let y = y0; y <= y1; y++) parts.push(`<line x1="${L}" x2="${W - R}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/><text x="${L - 6}" y="${py(y) + 4}" text-anchor="end">${10 ** y >= 1 ? 10 ** y : (10 ** y).toFixed(-y)} ms</text>`);
  for (const n of [...new Set(rows.map((r) => r.chunks as number))]) parts.push(`<text x="${px(Math.log10(n))}" y="${H - B + 16}" text-anchor="middle">${n.toLocaleString("en")}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">chunks in the index</text>`);
  let legend = 0;
  shapes.forEach((shape, si) => {
    const mine = rows.filter((r) => String(r.weights) === shape).sort((a, b) => (a.chunks as number) - (b.chunks as number));
    const dash = si === 0 ? "" : ` stroke-dasharray="5,3"`;
    for (const [k, label, color] of series) {
      const pts = mine.map((r) => `${px(Math.log10(r.chunks as number)).toFixed(1)},${py(Math.log10(Math.max(1e-3, r[k] as number))).toFixed(1)}`);
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.join(" ")}"/>`);
      parts.push(`<line x1="${W - R + 10}" x2="${W - R + 28}" y1="${T + legend * 16}" y2="${T + legend * 16}" stroke="${color}" stroke-width="2"${dash}/><text x="${W - R + 34}" y="${T + legend * 16 + 4}">${label} (${shape})</text>`);
      legend++;
    }
  });
  parts.push(`<text x="${L}" y="14">bench/index: top-10 latency vs index size, ${QUERY_LATENTS}-latent queries (log–log)</text>`, "</svg>");
  return parts.join("\n") + "\n";
}
