// The CLI commands that talk to the daemon: they parse, call DaemonClient, print. `daemon run`
// is the daemon itself (what `daemon start` and auto-start spawn).
import { resolve } from "node:path";
import { cacheDir, daemonArgsOf, DaemonClient, indexingNote, numberedSnippet, SEARCH_MODES, socketPath, type Progress, type RootStatus, type SearchMode, type StatusResult } from "@loupe/protocol/client";
import { bridgeManifest, describeLanguages } from "../analysis/bridge.js";
import { loupeCommand, loupeVersion } from "../host.js";
import { progressReporter } from "./progress.js";
import { quotePath } from "./quote.js";

export interface DaemonCliContext {
  values: {
    json?: boolean;
    quiet?: boolean;
    k?: string;
    mode?: string;
    root?: string;
    path?: string[];
    exclude?: string[];
    provider?: string;
    threads?: string;
    pack?: string;
    cluster?: boolean;
    opensearch?: string;
    "opensearch-index"?: string;
    "opensearch-push"?: boolean;
  };
  usageError: (message: string) => never;
  positiveInt: (name: string, raw: string | undefined, fallback: number, max: number) => number;
  oneOf: <T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback?: T) => T;
  /** The daemon's encoder (worker threads). */
  openEncoderForDaemon: () => Promise<import("../core/chunk-encoder.js").ChunkEncoder>;
}

function log(ctx: DaemonCliContext): (line: string) => void {
  return ctx.values.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`);
}

/** Model options given to `daemon start` (or any auto-starting command) travel to `daemon run`. */
function connect(ctx: DaemonCliContext, start = true): Promise<DaemonClient> {
  return DaemonClient.connect({ start, log: log(ctx), daemonArgs: daemonArgsOf(ctx.values), loupeCommand: loupeCommand() });
}

/** A client of the running daemon, or null when none answers (never starts one). */
async function runningDaemon(ctx: DaemonCliContext): Promise<DaemonClient | null> {
  try {
    return await connect(ctx, false);
  } catch {
    return null;
  }
}

/** A progress bar on stderr fed by the daemon's `$/progress` reports ("N / M files"). */
function progressSink(ctx: DaemonCliContext, phase: string): { onProgress?: (p: Progress) => void; stop: () => void } {
  if (ctx.values.quiet) return { stop() {} };
  const bar = progressReporter();
  return {
    onProgress(p) {
      const m = "message" in p && p.message ? /([\d,]+) \/ ([\d,]+) files( with meaning vectors)?/.exec(p.message) : null;
      if (m) bar.update(m[3] ? `${phase}: meaning vectors (searchable by words already)` : phase, Number(m[1]!.replace(/,/g, "")), Number(m[2]!.replace(/,/g, "")));
    },
    stop: () => bar.stop(),
  };
}

async function indexRoot(ctx: DaemonCliContext, client: DaemonClient, root: string): Promise<RootStatus> {
  const sink = progressSink(ctx, `indexing ${root}`);
  try {
    return await client.addRoot(resolve(root), { wait: true, ...(sink.onProgress ? { onProgress: sink.onProgress } : {}) });
  } finally {
    sink.stop();
  }
}

function describeRoot(r: RootStatus): string {
  const mb = (r.indexBytes / 1e6).toFixed(1);
  return `${r.root}\n  ${r.state}${r.progress ? ` ${r.progress.done}/${r.progress.total} files` : ""} · ${r.files} files, ${r.chunks} chunks${r.latent.ready < r.latent.total ? ` (meaning vectors for ${r.latent.ready} of ${r.latent.total} files)` : ""}, ${r.skipped} skipped, ${r.pending} pending · index ${mb} MB` +
    (r.lastError ? `\n  last error: ${r.lastError}` : "");
}

function printStatus(ctx: DaemonCliContext, s: StatusResult): void {
  if (ctx.values.json) {
    process.stdout.write(JSON.stringify(s) + "\n");
    return;
  }
  process.stdout.write(
    `loupe daemon ${s.version} · pid ${s.pid} · ${s.clients} client${s.clients === 1 ? "" : "s"} · since ${s.startedAt}\n` +
      `  socket ${s.socket}\n  pack ${s.pack ? `${s.pack.name} (${s.pack.fingerprint.slice(0, 19)}…) on ${s.pack.provider}, reads ${s.pack.scripts.length ? s.pack.scripts.join(", ") : "every"} script` : "none"}\n` +
      (s.cluster
        ? `  cluster ${s.cluster.url}, index ${s.cluster.index} (loupe search --cluster)` +
          (s.cluster.push ? `; roots pushed when they settle (last: ${s.cluster.push.last ?? "none yet"}${s.cluster.push.error ? `; failed: ${s.cluster.push.error}` : ""})` : "") + "\n"
        : "") +
      `  bridged ${s.bridged.length ? `${describeLanguages(bridgeManifest(), s.bridged)} ⇄ English (bilingual dictionaries)` : "none"}\n` +
      (s.lastError ? `  last error: ${s.lastError}\n` : "") +
      (s.roots.length ? s.roots.map(describeRoot).join("\n") + "\n" : "no workspace roots; add one with `loupe index <folder>`\n"),
  );
}

export async function cmdDaemon(ctx: DaemonCliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (rest.length > 0) ctx.usageError(`daemon ${sub} takes no arguments`);
  if (sub === "run") return runDaemon(ctx);
  if (sub === "start") {
    const client = await connect(ctx);
    const s = await client.status();
    client.close();
    if (!ctx.values.json) process.stdout.write(`loupe daemon running (pid ${s.pid}) on ${s.socket}\n`);
    else process.stdout.write(JSON.stringify(s) + "\n");
    return;
  }
  if (sub === "stop") {
    const client = await runningDaemon(ctx);
    if (!client) {
      process.stdout.write("loupe daemon is not running\n");
      return;
    }
    const { pid } = await client.status();
    await client.stop();
    process.stdout.write(`loupe daemon (pid ${pid}) stopped\n`);
    return;
  }
  if (sub === "status") {
    const client = await runningDaemon(ctx);
    if (!client) {
      if (ctx.values.json) process.stdout.write(JSON.stringify({ running: false, socket: socketPath() }) + "\n");
      else process.stdout.write(`loupe daemon is not running (socket ${socketPath()})\n`);
      return;
    }
    printStatus(ctx, await client.status());
    client.close();
    return;
  }
  ctx.usageError(`daemon needs start, stop, status or run; got "${sub ?? ""}"`);
}

/** The daemon in the foreground: logs on stderr, stops on SIGINT/SIGTERM or `loupe daemon stop`. */
async function runDaemon(ctx: DaemonCliContext): Promise<void> {
  const write = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  // A bug in one request must not take every client's daemon down: log it and go on.
  process.on("uncaughtException", (e) => write(`uncaught exception (daemon continues): ${e.stack ?? e}`));
  process.on("unhandledRejection", (e) => write(`unhandled rejection (daemon continues): ${(e as Error)?.stack ?? e}`));
  // Loaded here only: the other commands are clients and need none of the daemon's modules.
  const { startDaemon } = await import("../server/daemon.js");
  const daemon = await startDaemon({
    cacheDir: cacheDir(),
    socketPath: socketPath(),
    version: loupeVersion(),
    log: write,
    ...(process.env.LOUPE_DEBOUNCE_MS ? { rootOptions: { debounceMs: Number(process.env.LOUPE_DEBOUNCE_MS) } } : {}),
    ...(ctx.values.opensearch ? { cluster: { url: ctx.values.opensearch, index: ctx.values["opensearch-index"] ?? "loupe", push: ctx.values["opensearch-push"] ?? false } } : {}),
    openEncoder: () => ctx.openEncoderForDaemon(),
  });
  const onSignal = () => void daemon.stop();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  await daemon.stopped;
  write("stopped");
  // Watchers and the ONNX session's threads may keep handles open; the daemon is done.
  setTimeout(() => process.exit(0), 100).unref();
}

export async function cmdIndex(ctx: DaemonCliContext, args: string[]): Promise<void> {
  if (args.length !== 1) ctx.usageError("index takes one folder: loupe index <folder>");
  const client = await connect(ctx);
  try {
    const r = await indexRoot(ctx, client, args[0]!);
    if (ctx.values.json) process.stdout.write(JSON.stringify(r) + "\n");
    else process.stdout.write(`${describeRoot(r)}\n  watching for changes (loupe status; loupe daemon stop)\n`);
  } finally {
    client.close();
  }
}

export async function cmdSearch(ctx: DaemonCliContext, args: string[]): Promise<void> {
  const query = args.join(" ").trim();
  if (!query) ctx.usageError('search needs a query, e.g. loupe search "parse config file"');
  const mode = ctx.oneOf<SearchMode>("mode", ctx.values.mode, SEARCH_MODES, "hybrid");
  const k = ctx.positiveInt("k", ctx.values.k, 10, 100);
  const client = await connect(ctx);
  try {
    // --root only narrows the search to a root already added: a typo or a home folder must not
    // start indexing a huge tree behind a search (the daemon says how to add it).
    // On the cluster (--cluster), a root is named as it was pushed (`loupe opensearch push --name`).
    const roots = ctx.values.root ? [ctx.values.cluster ? ctx.values.root : resolve(ctx.values.root)] : undefined;
    const result = await client.search({ query, mode, k, ...(ctx.values.cluster ? { scope: "cluster" as const } : {}), ...(roots ? { roots } : {}), ...(ctx.values.path ? { paths: ctx.values.path } : {}), ...(ctx.values.exclude ? { exclude: ctx.values.exclude } : {}) });
    if (ctx.values.json) {
      process.stdout.write(JSON.stringify(result) + "\n");
      return;
    }
    const note = indexingNote(result.indexing);
    if (note) process.stderr.write(`note: ${note}\n`);
    if (result.hits.length === 0) process.stdout.write("no results\n");
    for (const h of result.hits) {
      const where = `${ctx.values.cluster ? `${h.root}/` : ""}${quotePath(h.path)}:${h.startLine}-${h.endLine}`;
      const concepts = h.concepts.slice(0, 3).map((c) => c.label.split(/[,;]/)[0]!.trim()).filter((l) => l !== "");
      process.stdout.write(`${where}  ${h.score.toFixed(4)}${h.symbol ? `  ${h.symbol}` : ""}\n${numberedSnippet(h, "    ")}` + (concepts.length ? `    concepts: ${concepts.join(" · ")}\n` : ""));
    }
  } finally {
    client.close();
  }
}

export async function cmdStatus(ctx: DaemonCliContext): Promise<void> {
  const client = await connect(ctx);
  try {
    printStatus(ctx, await client.status());
  } finally {
    client.close();
  }
}

export async function cmdReindex(ctx: DaemonCliContext, args: string[]): Promise<void> {
  if (args.length > 1) ctx.usageError("reindex takes at most one root folder");
  const client = await connect(ctx);
  const sink = progressSink(ctx, "reindexing");
  try {
    const s = await client.reindex(args[0] ? resolve(args[0]) : undefined, { wait: true, ...(sink.onProgress ? { onProgress: sink.onProgress } : {}) });
    sink.stop();
    printStatus(ctx, s);
  } finally {
    sink.stop();
    client.close();
  }
}

export async function cmdRemoveRoot(ctx: DaemonCliContext, args: string[]): Promise<void> {
  if (args.length !== 1) ctx.usageError("remove-root takes one folder");
  const client = await connect(ctx);
  try {
    printStatus(ctx, await client.removeRoot(resolve(args[0]!)));
  } finally {
    client.close();
  }
}

