// The daemon process: one per user, serving every client over a private Unix socket with
// LSP-style JSON-RPC (vscode-jsonrpc framing and the LSP `initialize` / `shutdown` / `exit` and
// `$/progress` messages). Each socket connection is its own JSON-RPC connection over the one
// shared Loupe core, so many clients share one index and one loaded model. Every request's
// parameters are checked here, once, against the protocol's schema; the handlers (handlers.ts)
// get typed input.
//
// Why not vscode-languageserver's `createConnection`: it is built for one editor per process;
// it exits the process on `exit` and when the client's processId dies. A shared daemon must
// outlive every client, so it uses the protocol package's message connection directly.
import { chmod, mkdir, rm } from "node:fs/promises";
import { createServer, createConnection as netConnect, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import {
  createMessageConnection, ExitNotification, InitializeRequest, ResponseError, ShutdownRequest, StreamMessageReader,
  SocketMessageWriter, WorkDoneProgress, type MessageConnection, type ProgressToken,
} from "vscode-languageserver-protocol/node";
import {
  ErrorCode, isLoupeError, LIMITS, LoupeError, ParamSchemas, parseParams, PROTOCOL_VERSION, Requests, RPC_ERROR, takePidLock, type StatusResult,
} from "@loupe/protocol";
import { openBridge } from "../analysis/bridge.js";
import type { ChunkEncoder } from "../core/chunk-encoder.js";
import { Loupe } from "../core/loupe.js";
import type { RootIndex, RootIndexOptions, RootIndexStatus } from "../core/root-index.js";
import { FrameGuard } from "./frame-guard.js";
import { requestHandlers, type Handlers } from "./handlers.js";
import { RootsFile } from "./roots-file.js";
import { SavedRoots } from "./saved-roots.js";

export interface DaemonOptions {
  cacheDir: string;
  socketPath: string;
  /** Loads the model; called once at start. */
  openEncoder: () => Promise<ChunkEncoder>;
  log: (line: string) => void;
  version: string;
  /** Root options for the core: tests shorten the debounce; the fault suite commits small batches to commit and merge often. */
  rootOptions?: Pick<RootIndexOptions, "debounceMs" | "batchFiles">;
  /** A shared OpenSearch index for searches with scope "cluster", and whether roots are pushed there (docs/scale-out.md). */
  cluster?: { url: string; index: string; push?: boolean };
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

/** One daemon per socket: `<socket>.lock` names its pid. A lock whose holder is gone (killed, a zombie, a reused pid) is stale and taken over. */
function lockSocket(socketPath: string): Promise<() => Promise<void>> {
  return takePidLock(`${socketPath}.lock`, (pid) =>
    new LoupeError(ErrorCode.DaemonUnavailable, `another Loupe daemon (pid ${pid}) already serves ${socketPath}; use \`loupe daemon stop\` first`));
}

/** Listens on `path` with the socket file born 0600. */
async function listenPrivately(server: Server, path: string): Promise<void> {
  await rm(path, { force: true }); // we hold the lock: any socket file here is stale
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  await chmod(path, 0o600);
}

export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  await mkdir(dirname(o.socketPath), { recursive: true, mode: 0o700 });
  const releaseLock = await lockSocket(o.socketPath);
  const startedAt = new Date().toISOString();
  let lastError: string | null = null;
  const connections = new Set<MessageConnection>();
  await mkdir(o.cacheDir, { recursive: true });
  // Read before anyone is served: no request may save a list that lacks the remembered roots.
  const rootsFile = new RootsFile(join(o.cacheDir, "roots.json"), o.log);
  let encoder: ChunkEncoder;
  try {
    await rootsFile.load();
    encoder = await o.openEncoder();
    // The bridge's language detector and stemmers load here, before anyone is served: their
    // ~0.4 s of module evaluation would otherwise stall the event loop under the first request.
    await openBridge();
  } catch (e) {
    await releaseLock();
    throw e;
  }
  /** Listeners of root status changes (progress reporters of waiting requests). */
  const watchers = new Set<(s: RootIndexStatus) => void>();
  const loupe = new Loupe({
    cacheDir: o.cacheDir,
    encoder,
    ...(o.cluster ? { cluster: o.cluster } : {}),
    log: o.log,
    ...(o.rootOptions ? { rootOptions: o.rootOptions } : {}),
    onRootChange: (s) => {
      for (const w of watchers) w(s);
    },
  });
  const saved = new SavedRoots(rootsFile, loupe, o.cacheDir, o.log);

  async function status(): Promise<StatusResult> {
    return {
      pid: process.pid,
      version: o.version,
      protocol: PROTOCOL_VERSION,
      socket: o.socketPath,
      startedAt,
      clients: connections.size,
      pack: { name: encoder.name, fingerprint: encoder.fingerprint, provider: encoder.provider, scripts: [...(encoder.readableScripts ?? [])] },
      cluster: loupe.cluster(),
      bridged: loupe.bridgedLanguages(),
      roots: [...(await Promise.all(loupe.rootList().map((r) => loupe.rootStatus(r)))), ...saved.notOpen()],
      lastError: lastError ?? saved.lastError,
    };
  }

  /** Reports a root's indexing on `token` until it is idle: first its files (searchable by their words once counted), then their latent vectors. */
  async function indexing(conn: MessageConnection, token: ProgressToken | undefined, root: RootIndex, title: string): Promise<void> {
    if (token === undefined) return root.whenIdle();
    const send = (value: unknown) => void conn.sendProgress(WorkDoneProgress.type, token, value as never).catch(() => {});
    send({ kind: "begin", title, cancellable: false, percentage: 0 });
    const listener = (s: RootIndexStatus) => {
      if (s.root !== root.root) return;
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

  let stopping: Promise<void> | null = null;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  // The stop answer must reach the client before its connection closes.
  const handlers: Handlers = requestHandlers({ loupe, saved, status, indexing, stopSoon: () => void setTimeout(() => void stop(), 50) });

  /** Checks a request's parameters, runs its handler, and turns errors into answers: LoupeErrors with their code, anything else as INTERNAL (logged). */
  function answer(method: keyof Handlers, conn: MessageConnection) {
    const schema = ParamSchemas[method];
    const handler = handlers[method] as (p: unknown, conn: MessageConnection) => Promise<unknown>;
    return async (raw: unknown) => {
      try {
        return await handler(schema ? parseParams(method, schema, raw) : undefined, conn);
      } catch (e) {
        if (isLoupeError(e)) return new ResponseError(RPC_ERROR.loupe, e.message, { code: e.code });
        lastError = `${method}: ${(e as Error).message}`;
        o.log(`request ${method} failed: ${(e as Error).stack ?? e}`);
        return new ResponseError(RPC_ERROR.internal, `internal error in ${method}: ${(e as Error).message}`, { code: "INTERNAL" });
      }
    };
  }

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
      // Not LSP: tells Loupe's clients which protocol they talk to.
      loupe: { protocol: PROTOCOL_VERSION, pid: process.pid },
    }) as never);
    conn.onRequest(ShutdownRequest.type, () => undefined);
    conn.onNotification(ExitNotification.type, drop);
    for (const method of Object.keys(handlers) as Array<keyof Handlers>) conn.onRequest(Requests[method].method, answer(method, conn));
    conn.listen();
  }

  const server: Server = createServer(serve);
  await listenPrivately(server, o.socketPath);
  server.on("error", (e) => {
    lastError = `socket: ${e.message}`;
    o.log(`socket error: ${e.message}`);
  });
  o.log(`loupe daemon ${o.version} (pid ${process.pid}) listening on ${o.socketPath}`);
  // Roots from the last run come back; one that cannot be opened now stays remembered.
  await saved.reopen(() => stopping !== null);

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
