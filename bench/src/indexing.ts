// bench/indexing: what a user feels while a new root indexes, through real daemon processes
// (`loupe daemon run`, the default pack, real clients on the Unix socket), for this checkout and,
// side by side in the same run, for a baseline checkout (`--baseline DIR`: another clone of the
// repository, built, e.g. the commit before the change being measured).
//
// For each pipeline, on its own daemon: a small root (fixtures/workspace) is added and indexed
// first; then hybrid searches on it are timed at rest (idle p99); then the big tree (`--tree`,
// a real repository) is added without waiting, and a lexical search for a word of that tree is
// repeated every 50 ms until it finds it (time to the first lexical hit), while a second client
// times hybrid searches on the small root (p99 while another root indexes), for `--seconds`.
// The CLI's `loupe search` against the warm daemon is timed too (p50 of 15). With `--full`, the
// tree is indexed to the end (both phases) and the index size and the daemon's resident memory
// at rest are recorded.
//
//   npm run bench:indexing -- --tree DIR [--baseline DIR] [--seconds 60] [--full] [--out FILE]
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { cacheDir, DaemonClient, daemonEnv } from "@loupe/protocol";
import { DEFAULT_HEAD, ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { walkWorkspace } from "@loupe/daemon/workspace/ignore";
import { machineInfo } from "./common.js";

const { values } = parseArgs({
  options: {
    tree: { type: "string" },
    baseline: { type: "string" },
    seconds: { type: "string", default: "60" },
    full: { type: "boolean", default: false },
    out: { type: "string", default: "bench/results/indexing.json" },
    // A bench/head-tradeoff result (today's pack against this one's head, speed and nDCG@10 on the public sets).
    "encoder-compare": { type: "string", default: "bench/results/head-tradeoff.json" },
  },
});
if (!values.tree) throw new Error("--tree DIR is required: a real repository to index");
const TREE = resolve(values.tree);
const SECONDS = Number(values.seconds);
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SMALL = join(REPO, "fixtures/workspace");
const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
};

/** A word that only the tree has (the first long identifier-like word of its first indexable file). */
async function probeWord(): Promise<{ word: string; file: string }> {
  const { files } = await walkWorkspace(TREE);
  for (const f of files) {
    const text = await readFile(join(TREE, f.path), "utf8");
    const m = /\b[a-z]{12,20}\b/.exec(text.toLowerCase());
    if (m) return { word: m[0], file: f.path };
  }
  throw new Error("no probe word found in the tree");
}

async function sourceBytes(): Promise<number> {
  const { files } = await walkWorkspace(TREE);
  return files.reduce((a, f) => a + f.size, 0);
}

function rssMb(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, "utf8").then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1024);
}

interface Result {
  pipeline: string;
  checkout: string;
  first_lexical_hit_s: number | null;
  search_p99_ms_idle: number;
  search_p50_ms_idle: number;
  search_p99_ms_while_indexing: number;
  search_p50_ms_while_indexing: number;
  searches_while_indexing: number;
  cli_search_p50_ms: number;
  indexed_files_after_window: number;
  index_bytes_per_source_byte?: number;
  rss_mb_at_rest?: number;
  chunks_at_rest?: number;
  full_index_s?: number;
}

/** `packDir` null: the checkout's own default pack (built into the run's cache), as its users get it. */
async function measure(name: string, checkout: string, probe: { word: string; file: string }, packDir: string | null): Promise<Result> {
  const dir = await mkdtemp("/tmp/loupe-bi-");
  // The environment the checkout's own `daemon start` gives its daemon (this checkout's
  // daemonEnv; the baseline's start added nothing).
  const base = name === "baseline" ? process.env : daemonEnv(process.env);
  const env: NodeJS.ProcessEnv = { ...base, LOUPE_CACHE_DIR: join(dir, "c"), LOUPE_RUNTIME_DIR: join(dir, "r") };
  delete env.LOUPE_SOCKET;
  delete env.LOUPE_DEBOUNCE_MS;
  await mkdir(join(dir, "c"), { recursive: true });
  const bin = join(checkout, "daemon/bin/loupe.js");
  const out = await open(join(dir, "daemon.log"), "a");
  const daemon: ChildProcess = spawn(process.execPath, [bin, "daemon", "run", ...(packDir ? ["--pack", packDir] : [])], { env, stdio: ["ignore", out.fd, out.fd] });
  await out.close();
  const socketPath = join(dir, "r", "loupe.sock");
  let c: DaemonClient | null = null;
  for (const deadline = Date.now() + 120_000; !c; ) {
    try {
      c = await DaemonClient.connect({ socketPath, start: false, name: "bench-indexing" });
    } catch {
      if (Date.now() > deadline || daemon.exitCode !== null) throw new Error(`${name}: the daemon did not start; see ${dir}/daemon.log`);
      await sleep(100);
    }
  }
  const client = c;
  try {
    const small = (await client.addRoot(SMALL, { wait: true })).root;
    const time = async (body: () => Promise<unknown>) => {
      const t = performance.now();
      await body();
      return performance.now() - t;
    };
    const hybrid = () => client.search({ query: "retry with exponential backoff", roots: [small], k: 10 });
    const idle: number[] = [];
    for (let i = 0; i < 100; i++) {
      idle.push(await time(hybrid));
      await sleep(10);
    }
    const cli: number[] = [];
    for (let i = 0; i < 15; i++) {
      cli.push(await time(() => promisify(execFile)(process.execPath, [bin, "search", "retry with exponential backoff", "--k", "3"], { env })));
    }
    log(`${name}: idle hybrid p99 ${round(quantile(idle, 0.99))} ms; CLI search p50 ${round(quantile(cli, 0.5))} ms`);

    // The big tree, without waiting; a second connection times searches on the small root meanwhile.
    const other = await DaemonClient.connect({ socketPath, start: false, name: "bench-indexing-2" });
    const start = performance.now();
    await client.addRoot(TREE, { wait: false });
    let firstHit: number | null = null;
    const busy: number[] = [];
    const end = start + SECONDS * 1000;
    const prober = (async () => {
      while (firstHit === null && performance.now() < end) {
        const r = await client.search({ query: probe.word, mode: "lexical", roots: [TREE], k: 1 }).catch(() => null);
        if (r && r.hits.length > 0) firstHit = (performance.now() - start) / 1000;
        else await sleep(50);
      }
    })();
    while (performance.now() < end) {
      busy.push(await time(() => other.search({ query: "retry with exponential backoff", roots: [small], k: 10 })));
      await sleep(20);
    }
    await prober;
    other.close();
    const status = (await client.status()).roots.find((r) => r.root === TREE)!;
    log(`${name}: first lexical hit ${firstHit ?? "none"} s; hybrid p99 while indexing ${round(quantile(busy, 0.99))} ms (${busy.length} searches); ${status.files} files indexed after ${SECONDS} s`);
    const result: Result = {
      pipeline: name, checkout,
      first_lexical_hit_s: firstHit === null ? null : round(firstHit, 2),
      search_p99_ms_idle: round(quantile(idle, 0.99)), search_p50_ms_idle: round(quantile(idle, 0.5)),
      search_p99_ms_while_indexing: round(quantile(busy, 0.99)), search_p50_ms_while_indexing: round(quantile(busy, 0.5)),
      searches_while_indexing: busy.length,
      cli_search_p50_ms: round(quantile(cli, 0.5)),
      indexed_files_after_window: status.files,
    };
    if (values.full) {
      await client.addRoot(TREE, { wait: true });
      result.full_index_s = round((performance.now() - start) / 1000);
      await sleep(70_000); // past the document worker's idle stop, so "at rest" is at rest
      const s = (await client.status()).roots.find((r) => r.root === TREE)!;
      result.index_bytes_per_source_byte = round(s.indexBytes / (await sourceBytes()), 2);
      result.rss_mb_at_rest = round(await rssMb(daemon.pid!));
      result.chunks_at_rest = s.chunks + (await client.status()).roots.find((r) => r.root === small)!.chunks;
      log(`${name}: full index ${result.full_index_s} s; index ${result.index_bytes_per_source_byte}× source; RSS at rest ${result.rss_mb_at_rest} MB with ${result.chunks_at_rest} chunks`);
    }
    return result;
  } finally {
    await client.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

const tradeoff = await readFile(resolve(REPO, values["encoder-compare"]!), "utf8").then(
  (t) => JSON.parse(t) as { speed: Record<string, { ratio_to_reference: number }>; max_hybrid_ndcg10_loss: Record<string, number>; reference: { version: string } },
  () => null,
);
const loadAtStart = loadavg();
const pack = await ensureDefaultPack({ cacheDir: cacheDir(), log });
const probe = await probeWord();
log(`tree ${TREE}: probe word "${probe.word}" (${probe.file})`);
const results: Result[] = [];
// The baseline runs on the pack its own checkout builds (today's head); the current one on this checkout's default.
if (values.baseline) results.push(await measure("baseline", resolve(values.baseline), probe, null));
results.push(await measure("current", REPO, probe, pack.dir));
const [base, cur] = values.baseline ? [results[0]!, results[1]!] : [null, results[0]!];
const report = {
  bench: "indexing",
  tree: TREE,
  window_s: SECONDS,
  // The keys, for the current pipeline; ratios against the baseline where one ran.
  first_lexical_hit_s: cur.first_lexical_hit_s,
  search_p99_ms_while_indexing: cur.search_p99_ms_while_indexing,
  search_p99_ms_idle: cur.search_p99_ms_idle,
  // From bench/head-tradeoff (today's pack against this checkout's default head, side by side):
  // chunks per CPU-second, and the largest hybrid nDCG@10 loss over the public sets.
  encoder_chunks_per_cpu_s_ratio: tradeoff?.speed[DEFAULT_HEAD]?.ratio_to_reference ?? null,
  max_ndcg10_loss: tradeoff?.max_hybrid_ndcg10_loss[DEFAULT_HEAD] ?? null,
  encoder_compare: tradeoff ? { file: values["encoder-compare"], head: DEFAULT_HEAD, reference: tradeoff.reference.version } : null,
  cli_search_p50_ms: cur.cli_search_p50_ms,
  index_bytes_per_source_byte: cur.index_bytes_per_source_byte ?? null,
  rss_mb_at_rest_10k: (cur.chunks_at_rest ?? 0) >= 10_000 ? (cur.rss_mb_at_rest ?? null) : null,
  rss_mb_at_rest: cur.rss_mb_at_rest ?? null,
  chunks_at_rest: cur.chunks_at_rest ?? null,
  ...(base
    ? {
        baseline: base,
        ratios: {
          search_p99_while_indexing: round(cur.search_p99_ms_while_indexing / base.search_p99_ms_while_indexing, 3),
          cli_search_p50: round(cur.cli_search_p50_ms / base.cli_search_p50_ms, 3),
        },
      }
    : {}),
  current: cur,
  machine: machineInfo(loadAtStart),
  load_average: { start: loadAtStart.map((x) => round(x, 2)), end: loadavg().map((x) => round(x, 2)) },
};
await mkdir(join(REPO, "bench/results"), { recursive: true });
await writeFile(resolve(REPO, values.out!), JSON.stringify(report, null, 2) + "\n");
log(`wrote ${values.out}`);
