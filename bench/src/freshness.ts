// bench/freshness: how long after a file is saved a search finds the change, through a real
// daemon process (`loupe daemon run`, its chokidar watcher, the default pack, the on-disk index)
// and a real client on its Unix socket, with the default debounce (what users get).
//
// The daemon watches a temp copy of a small realistic tree (fixtures/workspace, this repo's
// daemon/src, ajv's lib and protobufjs's src from node_modules: about 250 files). Each edit puts a
// unique made-up word (the marker) into the tree in one of four ways, in turn: a line appended
// to a code file, a comment inserted inside a function in the middle of a large file, a new
// Markdown note, or a file renamed to a name containing the marker (the path is indexed too).
// From the moment the write (or rename) returns, the client searches for the marker (lexical
// mode) every ~5 ms until the expected path is the top hit; that time is the edit's latency.
// Edits are spaced 100–400 ms apart (seeded), like saves. Goal: p95 ≤ 500 ms.
//
//   npm run bench:freshness [-- --edits N] [--out FILE]
import { spawn } from "node:child_process";
import { appendFile, cp, mkdir, mkdtemp, open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cacheDir, DaemonClient } from "@loupe/protocol";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { walkWorkspace } from "@loupe/daemon/workspace/ignore";
import { machineInfo, rng } from "./common.js";

const { values } = parseArgs({
  options: {
    edits: { type: "string", default: "60" },
    // Give up on one edit after this long (counted as a miss, not a latency).
    "timeout-ms": { type: "string", default: "10000" },
    // Keep the temp folder (tree, index, daemon.log) for a look afterwards.
    keep: { type: "boolean", default: false },
    out: { type: "string", default: "bench/results/freshness.json" },
  },
});
const EDITS = Number(values.edits);
const TIMEOUT_MS = Number(values["timeout-ms"]);
const POLL_MS = 5;
const GOAL_P95_MS = 500;
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(REPO, "daemon/bin/loupe.js");
const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- the tree ---------------------------------------------------------------------------------
// Short paths under /tmp: a Unix socket path must fit in 107 bytes.
const dir = await mkdtemp("/tmp/loupe-fresh-");
const root = join(dir, "ws");
const SOURCES: Array<[string, string]> = [
  ["fixtures/workspace", "."],
  ["daemon/src", "loupe/src"],
  ["node_modules/ajv/lib", "ajv/lib"],
  ["node_modules/protobufjs/src", "protobufjs/src"],
];
for (const [from, to] of SOURCES) await cp(join(REPO, from), join(root, to), { recursive: true });

async function listFiles(folder: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(folder, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(folder, p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}
const CODE = /\.(ts|js|py|go)$/;
const files = (await listFiles(root)).filter((p) => CODE.test(p) || p.endsWith(".md"));
const lineCount = async (p: string) => (await readFile(join(root, p), "utf8")).split("\n").length;
const large: string[] = [];
for (const p of files) if (/\.(ts|js)$/.test(p) && (await lineCount(p)) >= 300) large.push(p);

// --- the daemon -------------------------------------------------------------------------------
// The default pack from the user's cache (converted once), so the temp cache holds only indexes.
const pack = await ensureDefaultPack({ cacheDir: cacheDir(), log });
const env: NodeJS.ProcessEnv = { ...process.env, LOUPE_CACHE_DIR: join(dir, "cache"), LOUPE_RUNTIME_DIR: join(dir, "run") };
delete env.LOUPE_SOCKET;
delete env.LOUPE_DEBOUNCE_MS;
const socketPath = join(dir, "run", "loupe.sock");
await mkdir(join(dir, "cache"), { recursive: true });
const daemonLog = await open(join(dir, "daemon.log"), "a");
const child = spawn(process.execPath, [BIN, "daemon", "run", "--pack", pack.dir], { env, stdio: ["ignore", daemonLog.fd, daemonLog.fd] });
let exited: number | null = null;
child.once("exit", (code) => (exited = code ?? 1));
// If this script dies half-way, its daemon must not outlive it.
process.once("exit", () => {
  if (exited === null) child.kill();
});
await daemonLog.close();

async function daemonFailed(why: string): Promise<never> {
  const tail = (await readFile(join(dir, "daemon.log"), "utf8").catch(() => "")).trim().split("\n").slice(-10).join("\n");
  if (exited === null) child.kill();
  throw new Error(`${why}; the daemon log ends:\n${tail}`);
}

let client: DaemonClient | null = null;
for (const deadline = Date.now() + 120_000; client === null; ) {
  try {
    client = await DaemonClient.connect({ socketPath, start: false, name: "bench-freshness" });
  } catch {
    if (exited !== null) await daemonFailed(`the daemon exited with code ${exited}`);
    if (Date.now() > deadline) await daemonFailed("the daemon did not answer within 120 s");
    await sleep(100);
  }
}
const c = client!;

const loadAtStart = loadavg();
const indexStart = performance.now();
const initial = await c.addRoot(root, { wait: true });
const initialIndexS = (performance.now() - indexStart) / 1000;
log(`initial index: ${initial.files} files, ${initial.chunks} chunks in ${initialIndexS.toFixed(1)} s`);

// --- the edits --------------------------------------------------------------------------------
const random = rng(6);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
// Letters only (one analyzer term, kept whole) and no "s" (the plural stemmer leaves it alone).
const LETTERS = "abcdefghijklmnopqrtuvwxyz";
function marker(): string {
  let m = "qx";
  for (let i = 0; i < 10; i++) m += LETTERS[Math.floor(random() * LETTERS.length)];
  return m;
}
const comment = (path: string, text: string) => (path.endsWith(".py") ? `# ${text}` : path.endsWith(".md") ? text : `// ${text}`);

type Kind = "append" | "middle" | "note" | "rename";
const KINDS: Kind[] = ["append", "middle", "note", "rename"];

const renamedFrom: string[] = [];

/** Makes one edit; returns the path whose top hit proves it searchable. */
async function edit(kind: Kind, m: string, i: number): Promise<string> {
  if (kind === "append") {
    const p = pick(files.filter((f) => CODE.test(f)));
    const text = await readFile(join(root, p), "utf8");
    await appendFile(join(root, p), `${text.endsWith("\n") ? "" : "\n"}${comment(p, `edited: ${m}`)}\n`);
    return p;
  }
  if (kind === "middle") {
    // After a line opening a block in the middle half of a large file: a function's body.
    const p = pick(large);
    const lines = (await readFile(join(root, p), "utf8")).split("\n");
    const lo = Math.floor(lines.length / 4);
    const hi = Math.floor((3 * lines.length) / 4);
    const openers = [];
    for (let j = lo; j < hi; j++) if (/\{\s*$/.test(lines[j]!) && j + 1 < lines.length) openers.push(j);
    const at = openers.length > 0 ? pick(openers) : Math.floor(lines.length / 2);
    const indent = /^\s*/.exec(lines[at + 1] ?? "")![0];
    lines.splice(at + 1, 0, `${indent}// checked: ${m}`);
    await writeFile(join(root, p), lines.join("\n"));
    return p;
  }
  if (kind === "note") {
    const p = `notes/standup-${i}.md`;
    await writeFile(join(root, p), `# Standup ${i}\n\nWe went through the ${m} rollout, the retry budget and who reviews the parser change.\n`);
    files.push(p);
    return p;
  }
  const p = pick(files.filter((f) => !/-qx[a-z]{10}\./.test(f)));
  const base = basename(p);
  const dot = base.lastIndexOf(".");
  const to = `${dirname(p) === "." ? "" : `${dirname(p)}/`}${base.slice(0, dot)}-${m}${base.slice(dot)}`;
  await rename(join(root, p), join(root, to));
  renamedFrom.push(p);
  files.splice(files.indexOf(p), 1, to);
  const li = large.indexOf(p);
  if (li >= 0) large.splice(li, 1, to);
  return to;
}

interface Row {
  i: number;
  kind: Kind;
  path: string;
  ms: number | null;
  polls: number;
}
const rows: Row[] = [];
for (let i = 0; i < EDITS; i++) {
  await sleep(100 + Math.floor(random() * 300));
  const kind = KINDS[i % KINDS.length]!;
  const m = marker();
  const path = await edit(kind, m, i);
  const saved = performance.now();
  let ms: number | null = null;
  let polls = 0;
  for (;;) {
    const res = await c.search({ query: m, mode: "lexical", k: 1 });
    polls++;
    const now = performance.now();
    if (res.hits[0]?.path === path) {
      ms = now - saved;
      break;
    }
    if (now - saved > TIMEOUT_MS) break;
    await sleep(POLL_MS);
  }
  rows.push({ i, kind, path, ms: ms === null ? null : Math.round(ms * 10) / 10, polls });
  log(`edit ${i + 1}/${EDITS} ${kind.padEnd(6)} ${ms === null ? "MISSED" : `${ms.toFixed(1)} ms`}  ${path}`);
}

// --- results ----------------------------------------------------------------------------------
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
const round1 = (x: number) => Math.round(x * 10) / 10;
function stats(rs: Row[]) {
  const ms = rs.flatMap((r) => (r.ms === null ? [] : [r.ms])).sort((a, b) => a - b);
  return { edits: rs.length, missed: rs.length - ms.length, p50_ms: round1(quantile(ms, 0.5)), p95_ms: round1(quantile(ms, 0.95)), max_ms: round1(ms[ms.length - 1] ?? NaN), mean_ms: round1(ms.reduce((a, b) => a + b, 0) / Math.max(ms.length, 1)) };
}
const overall = stats(rows);

// After the edits settle: does the daemon index exactly the files on disk, and have the paths
// renamed away left the index? (Latency says when a change shows up, not that stale entries go.)
await sleep(1000);
let status = await c.status();
for (const deadline = Date.now() + 10_000; (status.roots[0]?.pending ?? 0) > 0 || status.roots[0]?.state !== "watching"; ) {
  if (Date.now() > deadline) break;
  await sleep(100);
  status = await c.status();
}
const onDisk = (await walkWorkspace(root)).files.length;
const stale: string[] = [];
for (const p of renamedFrom) {
  // The path is indexed as text too, so its own file name finds it when it is still there.
  const stem = basename(p).replace(/\.[^.]*$/, "");
  const res = await c.search({ query: stem, mode: "lexical", k: 1, paths: [p] });
  if (res.hits.length > 0) stale.push(p);
}
const consistency = { files_on_disk: onDisk, files_indexed: status.roots[0]?.files ?? null, renamed_paths_still_indexed: stale };
log(`after the edits: ${onDisk} files on disk, ${consistency.files_indexed} indexed; renamed-away paths still indexed: ${stale.length ? stale.join(", ") : "none"}`);
let daemonRss: { rss_mb: number; peak_rss_mb: number } | null = null;
try {
  const s = await readFile(`/proc/${status.pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  daemonRss = { rss_mb: Math.round(kb("VmRSS") / 1024), peak_rss_mb: Math.round(kb("VmHWM") / 1024) };
} catch {
  // Not Linux.
}
const result = {
  bench: "freshness",
  date: new Date().toISOString(),
  machine: {
    ...machineInfo(loadAtStart),
    load_average_at_end: loadavg().map((x) => Math.round(x * 100) / 100),
  },
  daemon: {
    version: status.version,
    pack: status.pack,
    debounce: "default (LOUPE_DEBOUNCE_MS unset)",
    ...(daemonRss ?? {}),
  },
  tree: {
    sources: SOURCES.map(([from]) => from),
    files: initial.files,
    chunks: initial.chunks,
    skipped: initial.skipped,
    initial_index_s: Math.round(initialIndexS * 10) / 10,
  },
  method: `each edit writes a unique marker word; the client searches for it (lexical, k 1) every ${POLL_MS} ms from the moment the write or rename returns until the edited path is the top hit; edits 100–400 ms apart; kinds in turn: ${KINDS.join(", ")}`,
  goal: { p95_ms: GOAL_P95_MS },
  goal_met: overall.missed === 0 && overall.p95_ms <= GOAL_P95_MS,
  ...overall,
  by_kind: Object.fromEntries(KINDS.map((k) => [k, stats(rows.filter((r) => r.kind === k))])),
  consistency,
  root_after: status.roots[0] ?? null,
  rows,
};
log(`freshness: p50 ${overall.p50_ms} ms, p95 ${overall.p95_ms} ms, max ${overall.max_ms} ms, ${overall.missed} missed (goal p95 ≤ ${GOAL_P95_MS} ms: ${result.goal_met ? "met" : "not met"})`);

await c.stop();
c.close();
if (exited === null) await new Promise((r) => child.once("exit", r));
if (!values.keep) await rm(dir, { recursive: true, force: true });
else log(`kept ${dir}`);
const out = resolve(values.out);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(result, null, 2) + "\n");
process.stdout.write(JSON.stringify({ ...result, rows: undefined }) + "\n");
