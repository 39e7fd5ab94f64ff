// The daemon process: one per user, serving every client over a private Unix socket with
// LSP-style JSON-RPC (vscode-jsonrpc framing and the LSP `initialize` / `shutdown` / `exit` and
// `$/progress` messages). Each socket connection is its own JSON-RPC connection over the one
// shared Loupe core, so many clients share one index and one loaded model.
//
// Why not vscode-languageserver's `createConnection`: it is built for one editor per process;
// it exits the process on `exit` and when the client's processId dies. A shared daemon must
// outlive every client, so it uses the protocol package's message connection directly.
import { chmod, mkdir, rm } from "node:fs/promises";
import { createServer, createConnection as netConnect, type Server, type Socket } from "node:net";
import { dirname, join, resolve } from "node:path";
import {
  createMessageConnection, ExitNotification, InitializeRequest, ResponseError, ShutdownRequest, StreamMessageReader,
  SocketMessageWriter, WorkDoneProgress, type MessageConnection, type ProgressToken,
} from "vscode-languageserver-protocol/node";
import type { ChunkEncoder } from "../core/chunk-encoder.js";
import { FrameGuard } from "./frame-guard.js";
import { RootsFile } from "./roots-file.js";
import { Loupe } from "../core/loupe.js";
import type { RootIndex, RootIndexStatus } from "../core/root-index.js";
import { ErrorCode, isLoupeError, LoupeError } from "../errors.js";
import { takePidLock } from "../pid-lock.js";
import { LIMITS, PROTOCOL_VERSION, Requests, RPC_ERROR, type ErrorData, type RootStatus, type StatusResult } from "../protocol.js";

export interface DaemonOptions {
  cacheDir: string;
  socketPath: string;
  /** Loads the model; called once at start. */
  openEncoder: () => Promise<ChunkEncoder>;
  log: (line: string) => void;
  version: string;
  /** Root options for the core (tests shorten the debounce). */
  debounceMs?: number;
  /** Files per index commit (default 64); the fault suite makes it small to commit and merge often. */
  batchFiles?: number;
}

export interface RunningDaemon {
  loupe: Loupe;
  /** Resolves when the daemon has stopped (after `stop` or a signal). */
  stopped: Promise<void>;
  stop(): Promise<void>;
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

export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const runtime = dirname(o.socketPath);
  await mkdir(runtime, { recursive: true, mode: 0o700 });
  const lock = `${o.socketPath}.lock`;
  // One daemon per socket. A lock whose holder is gone (killed, a zombie, a reused pid) is stale and taken over.
  const releaseLock = await takePidLock(lock, (pid) =>
    new LoupeError(ErrorCode.DaemonUnavailable, `another Loupe daemon (pid ${pid}) already serves ${o.socketPath}; use \`loupe daemon stop\` first`));
  const startedAt = new Date().toISOString();
  let lastError: string | null = null;
  const connections = new Set<MessageConnection>();
  await mkdir(o.cacheDir, { recursive: true });
  // Read before anyone is served: no request may save a list that lacks the remembered roots.
  const rootsFile = new RootsFile(join(o.cacheDir, "roots.json"), o.log);
  let remembered: string[];
  let encoder: ChunkEncoder;
  try {
    remembered = await rootsFile.load();
    encoder = await o.openEncoder();
  } catch (e) {
    await releaseLock();
    throw e;
  }
  /** Remembered roots that could not be reopened, with why; they stay remembered and show in status. */
  const unopened = new Map<string, string>();
  /** Listeners of root status changes (progress reporters of waiting requests). */
  const watchers = new Set<(s: RootIndexStatus) => void>();
  const loupe = new Loupe({
    cacheDir: o.cacheDir,
    encoder,
    log: o.log,
    rootOptions: { ...(o.debounceMs !== undefined ? { debounceMs: o.debounceMs } : {}), ...(o.batchFiles !== undefined ? { batchFiles: o.batchFiles } : {}) },
    onRootChange: (s) => {
      for (const w of watchers) w(s);
    },
  });

  /** A remembered root that is not open: not reopened yet (`why` null) or failed to. */
  function unopenedStatus(root: string, why: string | null): RootStatus {
    return {
      root, state: why === null ? "scanning" : "error", files: 0, chunks: 0, latent: { ready: 0, total: 0 }, skipped: 0, pending: 0, progress: null, indexBytes: 0,
      indexDir: Loupe.indexDirFor(o.cacheDir, root), lifetime: "saved",
      lastError: why === null ? null : `could not reopen: ${why}. Loupe retries when the daemon restarts or on \`loupe index ${root}\`; \`loupe remove-root ${root}\` forgets it`,
    };
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
      roots: [
        ...(await Promise.all(loupe.rootList().map((r) => loupe.rootStatus(r)))),
        ...rootsFile.list().filter((r) => !loupe.savedRoots().includes(r)).map((r) => unopenedStatus(r, unopened.get(r) ?? null)),
      ],
      lastError,
    };
  }

  /** Reports a root's indexing on `token` until it is idle. */
  async function withProgress(conn: MessageConnection, token: ProgressToken | undefined, root: RootIndex, title: string): Promise<void> {
    if (token === undefined) return root.whenIdle();
    const send = (value: unknown) => void conn.sendProgress(WorkDoneProgress.type, token, value as never).catch(() => {});
    send({ kind: "begin", title, cancellable: false, percentage: 0 });
    const listener = (s: RootIndexStatus) => {
      if (s.root !== root.root) return;
      // First the files (searchable by their words once counted), then their latent vectors.
      const [done, total, what] = s.progress ? [s.progress.done, s.progress.total, "files"] : [s.latent.ready, s.latent.total, "files with meaning vectors"];
      if (!s.progress && done >= total) return;
      send({ kind: "report", message: `${done.toLocaleString("en")} / ${total.toLocaleString("en")} ${what}`, percentage: Math.floor((100 * done) / Math.max(total, 1)) });
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
    // Messages over LIMITS.messageBytes close the connection before their body is buffered.
    const framed = new FrameGuard(LIMITS.messageBytes);
    socket.pipe(framed);
    const conn = createMessageConnection(new StreamMessageReader(framed), new SocketMessageWriter(socket));
    connections.add(conn);
    const drop = () => {
      if (!connections.delete(conn)) return;
      conn.dispose();
      socket.destroy();
      // Session roots this connection held and nobody else holds are closed (their indexes stay).
      void loupe.releaseSession(conn).then(
        (closed) => { for (const r of closed) o.log(`closed session root ${r} (its last session ended)`); },
        (e) => o.log(`closing session roots failed: ${(e as Error).message}`),
      );
    };
    socket.on("error", drop);
    socket.on("close", drop);
    framed.on("error", (e) => {
      o.log(`closing a client connection: ${e.message}`);
      drop();
    });
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
      if (p.root.length > LIMITS.pathChars) throw new LoupeError(ErrorCode.BadArgument, `root is ${p.root.length} characters; the limit is ${LIMITS.pathChars}`);
      const r = await loupe.addRoot(p.root, p.session === true ? { session: conn } : {});
      if (p.session !== true) {
        await rootsFile.add(r.root);
        unopened.delete(r.root);
      }
      if (p.wait) await withProgress(conn, p.workDoneToken, r, `Indexing ${r.root}`);
      return loupe.rootStatus(r);
    }));
    conn.onRequest(Requests.removeRoot, guard("removeRoot", async (p) => {
      if (!p || typeof p.root !== "string") throw new LoupeError(ErrorCode.BadArgument, "removeRoot needs { root: <folder> }");
      // A remembered root that never reopened is forgotten by its path as listed.
      const listed = [p.root, resolve(p.root)].find((r) => rootsFile.has(r) && !loupe.savedRoots().includes(r));
      if (listed) {
        unopened.delete(listed);
        await rootsFile.remove(listed);
        await rm(Loupe.indexDirFor(o.cacheDir, listed), { recursive: true, force: true });
        return status();
      }
      const root = await loupe.removeRoot(p.root); // NOT_FOUND for a folder that is not a root
      await rootsFile.remove(root);
      o.log(`removed root ${root} and its index`);
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

  // Roots from the last run come back (their indexes are reconciled, not rebuilt). One that
  // cannot be opened now stays remembered: a missing disk must not cost the user their roots.
  for (const root of remembered) {
    if (stopping) break;
    if (!rootsFile.has(root)) continue; // removed while we were reopening the others
    try {
      const r = await loupe.addRoot(root);
      // Opened under another name (a symbolic link retargeted): remember what it resolves to now.
      if (r.root !== root) {
        await rootsFile.remove(root);
        await rootsFile.add(r.root);
      }
    } catch (e) {
      if (!loupe.savedRoots().includes(root)) unopened.set(root, (e as Error).message);
      lastError = `${root}: ${(e as Error).message}`;
      o.log(`could not reopen root ${root}: ${(e as Error).message}`);
    }
  }

  function stop(): Promise<void> {
    stopping ??= (async () => {
      o.log("stopping");
      server.close();
      for (const c of connections) c.dispose();
      await loupe.close();
      await encoder.close();
      await rm(o.socketPath, { force: true });
      await releaseLock();
      resolveStopped();
    })();
    return stopping;
  }

  return { loupe, stopped, stop };
}
