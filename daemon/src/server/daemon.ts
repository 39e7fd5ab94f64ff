// The daemon process: one per user, serving every client over a private Unix socket with
// LSP-style JSON-RPC (vscode-jsonrpc framing and the LSP `initialize` / `shutdown` / `exit` and
// `$/progress` messages). Each socket connection is its own JSON-RPC connection over the one
// shared Loupe core, so many clients share one index and one loaded model.
//
// Why not vscode-languageserver's `createConnection`: it is built for one editor per process;
// it exits the process on `exit` and when the client's processId dies. A shared daemon must
// outlive every client, so it uses the protocol package's message connection directly.
import { chmod, mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createServer, createConnection as netConnect, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import {
  createMessageConnection, ExitNotification, InitializeRequest, ResponseError, ShutdownRequest, SocketMessageReader,
  SocketMessageWriter, WorkDoneProgress, type MessageConnection, type ProgressToken,
} from "vscode-languageserver-protocol/node";
import type { ChunkEncoder } from "../core/chunk-encoder.js";
import { Loupe } from "../core/loupe.js";
import type { RootIndex } from "../core/root-index.js";
import { ErrorCode, isLoupeError, LoupeError } from "../errors.js";
import { PROTOCOL_VERSION, Requests, RPC_ERROR, type ErrorData, type RootStatus, type StatusResult } from "../protocol.js";

export interface DaemonOptions {
  cacheDir: string;
  socketPath: string;
  /** Loads the model; called once at start. */
  openEncoder: () => Promise<ChunkEncoder>;
  log: (line: string) => void;
  version: string;
  /** Root options for the core (tests shorten the debounce). */
  debounceMs?: number;
}

export interface RunningDaemon {
  loupe: Loupe;
  /** Resolves when the daemon has stopped (after `stop` or a signal). */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Is a daemon answering on this socket? */
export function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Takes `<socket>.lock` (created exclusively, holding our pid). A lock whose process is gone is
 * stale and taken over; a live one means another daemon runs.
 */
async function takeLock(lock: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const f = await open(lock, "wx", 0o600);
      await f.writeFile(String(process.pid));
      await f.close();
      return;
    } catch (e) {
      if (errno(e) !== "EEXIST") throw e;
      const pid = Number((await readFile(lock, "utf8").catch(() => "")).trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (k) {
          alive = errno(k) === "EPERM";
        }
      }
      if (alive) throw new LoupeError(ErrorCode.DaemonUnavailable, `another Loupe daemon (pid ${pid}) already serves ${lock.replace(/\.lock$/, "")}; use \`loupe daemon stop\` first`);
      await rm(lock, { force: true });
    }
  }
  throw new LoupeError(ErrorCode.DaemonUnavailable, `could not take the daemon lock ${lock}`);
}

export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const runtime = dirname(o.socketPath);
  await mkdir(runtime, { recursive: true, mode: 0o700 });
  const lock = `${o.socketPath}.lock`;
  await takeLock(lock);
  const startedAt = new Date().toISOString();
  let lastError: string | null = null;
  const connections = new Set<MessageConnection>();
  const rootsFile = join(o.cacheDir, "roots.json");

  let encoder: ChunkEncoder;
  try {
    encoder = await o.openEncoder();
  } catch (e) {
    await rm(lock, { force: true });
    throw e;
  }
  /** Listeners of root status changes (progress reporters of waiting requests). */
  const watchers = new Set<(s: RootStatus) => void>();
  const loupe = new Loupe({
    cacheDir: o.cacheDir,
    encoder,
    log: o.log,
    rootOptions: { ...(o.debounceMs !== undefined ? { debounceMs: o.debounceMs } : {}) },
    onRootChange: (s) => {
      for (const w of watchers) w(s);
    },
  });

  async function saveRoots(): Promise<void> {
    const tmp = `${rootsFile}.tmp`;
    await mkdir(o.cacheDir, { recursive: true });
    await writeFile(tmp, JSON.stringify({ roots: loupe.rootList().map((r) => r.root) }, null, 2) + "\n");
    await rename(tmp, rootsFile);
  }

  async function status(): Promise<StatusResult> {
    return {
      pid: process.pid,
      version: o.version,
      protocol: PROTOCOL_VERSION,
      socket: o.socketPath,
      startedAt,
      clients: connections.size,
      pack: { name: encoder.name, fingerprint: encoder.fingerprint, provider: encoder.provider },
      roots: await Promise.all(loupe.rootList().map((r) => loupe.rootStatus(r))),
      lastError,
    };
  }

  /** Reports a root's indexing on `token` until it is idle. */
  async function withProgress(conn: MessageConnection, token: ProgressToken | undefined, root: RootIndex, title: string): Promise<void> {
    if (token === undefined) return root.whenIdle();
    const send = (value: unknown) => void conn.sendProgress(WorkDoneProgress.type, token, value as never).catch(() => {});
    send({ kind: "begin", title, cancellable: false, percentage: 0 });
    const listener = (s: RootStatus) => {
      if (s.root !== root.root || !s.progress) return;
      const { done, total } = s.progress;
      send({ kind: "report", message: `${done.toLocaleString("en")} / ${total.toLocaleString("en")} files`, percentage: Math.floor((100 * done) / Math.max(total, 1)) });
    };
    watchers.add(listener);
    try {
      await root.whenIdle();
    } finally {
      watchers.delete(listener);
      send({ kind: "end", message: `${root.root}: ${root.state}` });
    }
  }

  function guard<P, R>(name: string, body: (params: P) => Promise<R>): (params: P) => Promise<R | ResponseError<ErrorData>> {
    return async (params: P) => {
      try {
        return await body(params);
      } catch (e) {
        if (isLoupeError(e)) return new ResponseError(RPC_ERROR.loupe, e.message, { code: e.code });
        lastError = `${name}: ${(e as Error).message}`;
        o.log(`request ${name} failed: ${(e as Error).stack ?? e}`);
        return new ResponseError(RPC_ERROR.internal, `internal error in ${name}: ${(e as Error).message}`, { code: "INTERNAL" });
      }
    };
  }

  let stopping: Promise<void> | null = null;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  function serve(socket: Socket): void {
    const conn = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
    connections.add(conn);
    const drop = () => {
      if (!connections.delete(conn)) return;
      conn.dispose();
      socket.destroy();
    };
    socket.on("error", drop);
    socket.on("close", drop);
    conn.onError(([e]) => o.log(`client connection error: ${e.message}`));
    conn.onClose(drop);
    conn.onRequest(InitializeRequest.type, () => ({
      capabilities: {},
      serverInfo: { name: "loupe", version: o.version },
      // Not LSP: tells Loupe's clients which protocol.ts they talk to.
      loupe: { protocol: PROTOCOL_VERSION, pid: process.pid },
    }) as never);
    conn.onRequest(ShutdownRequest.type, () => undefined);
    conn.onNotification(ExitNotification.type, drop);
    conn.onRequest(Requests.status, guard("status", () => status()) as () => Promise<StatusResult | ResponseError<ErrorData>>);
    conn.onRequest(Requests.search, guard("search", (p) => loupe.search(p)));
    conn.onRequest(Requests.read, guard("read", (p) => loupe.read(p)));
    conn.onRequest(Requests.similar, guard("similar", (p) => loupe.similar(p)));
    conn.onRequest(Requests.explain, guard("explain", (p) => loupe.explain(p)));
    conn.onRequest(Requests.addRoot, guard("addRoot", async (p) => {
      if (!p || typeof p.root !== "string") throw new LoupeError(ErrorCode.BadArgument, "addRoot needs { root: <folder> }");
      const r = await loupe.addRoot(p.root);
      await saveRoots();
      if (p.wait) await withProgress(conn, p.workDoneToken, r, `Indexing ${r.root}`);
      return loupe.rootStatus(r);
    }));
    conn.onRequest(Requests.removeRoot, guard("removeRoot", async (p) => {
      if (!p || typeof p.root !== "string") throw new LoupeError(ErrorCode.BadArgument, "removeRoot needs { root: <folder> }");
      await loupe.removeRoot(p.root);
      await saveRoots();
      return status();
    }));
    conn.onRequest(Requests.reindex, guard("reindex", async (p) => {
      await loupe.reindex(p?.root);
      if (p?.wait) for (const r of loupe.rootList()) if (!p.root || r.root === p.root) await withProgress(conn, p.workDoneToken, r, `Reindexing ${r.root}`);
      return status();
    }));
    conn.onRequest(Requests.stop, () => {
      // Let the answer reach the client before its connection closes.
      setTimeout(() => void stop(), 50);
      return { stopping: true as const };
    });
    conn.listen();
  }

  await rm(o.socketPath, { force: true }); // we hold the lock: any socket file here is stale
  const server: Server = createServer(serve);
  const oldMask = process.umask(0o177); // the socket file is born 0600
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.socketPath, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  await chmod(o.socketPath, 0o600);
  server.on("error", (e) => {
    lastError = `socket: ${e.message}`;
    o.log(`socket error: ${e.message}`);
  });
  o.log(`loupe daemon ${o.version} (pid ${process.pid}) listening on ${o.socketPath}`);

  // Roots from the last run come back (their indexes are reconciled, not rebuilt).
  try {
    const saved = JSON.parse(await readFile(rootsFile, "utf8")) as { roots?: unknown };
    for (const root of Array.isArray(saved.roots) ? saved.roots : []) {
      if (typeof root !== "string") continue;
      await loupe.addRoot(root).catch((e) => {
        lastError = `${root}: ${(e as Error).message}`;
        o.log(`could not reopen root ${root}: ${(e as Error).message}`);
      });
    }
  } catch (e) {
    if (errno(e) !== "ENOENT") o.log(`ignoring ${rootsFile}: ${(e as Error).message}`);
  }

  function stop(): Promise<void> {
    stopping ??= (async () => {
      o.log("stopping");
      server.close();
      for (const c of connections) c.dispose();
      await loupe.close();
      await encoder.close();
      await rm(o.socketPath, { force: true });
      await rm(lock, { force: true });
      resolveStopped();
    })();
    return stopping;
  }

  return { loupe, stopped, stop };
}
