// A typed client for the daemon (the CLI, the MCP server and `loupe lsp` use it). `DaemonClient.connect` attaches
// to the user's daemon, starting it in the background when none answers, and turns error
// answers back into LoupeErrors with their codes.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import { createConnection as netConnect, type Socket } from "node:net";
import { dirname, join, resolve } from "node:path";
import {
  createMessageConnection, InitializeRequest, ResponseError, SocketMessageReader, SocketMessageWriter, WorkDoneProgress,
  type MessageConnection, type RequestType, type WorkDoneProgressBegin, type WorkDoneProgressReport, type WorkDoneProgressEnd,
} from "vscode-languageserver-protocol/node";
import { ErrorCode, LoupeError, type ErrorCode as Code } from "./errors.js";
import { cacheDir as defaultCacheDir, socketPath as defaultSocketPath } from "./paths.js";
import { lockHolder } from "./pid-lock.js";
import { Requests, type ErrorData } from "./protocol.js";
import type { ExplainParams, ExplainResult, ReadParams, ReadResult, RootStatus, SearchParams, SearchResult, SimilarParams, StatusResult } from "./schemas.js";

export interface ClientOptions {
  socketPath?: string;
  cacheDir?: string;
  /** Start the daemon when none answers; default true. */
  start?: boolean;
  /** How long to wait for a started daemon to answer; default 120 s (the first start converts the model pack). */
  startTimeoutMs?: number;
  /** Extra arguments for `loupe daemon run` when starting it (e.g. ["--provider", "cpu"]). */
  daemonArgs?: string[];
  /** The command that runs Loupe's CLI, to start a daemon with: default `["loupe"]` from PATH; the CLI passes `[node, its bin/loupe.js]`. */
  loupeCommand?: string[];
  env?: NodeJS.ProcessEnv;
  /** Told when a daemon is being started, and where its log goes. */
  log?: (line: string) => void;
  /** Client name reported in `initialize`. */
  name?: string;
}

export type Progress = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

function connectSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(path);
    s.once("connect", () => {
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The model options a client passes to the daemon it starts (`loupe daemon run` arguments). */
export function daemonArgsOf(o: { provider?: string | undefined; threads?: string | undefined; pack?: string | undefined; opensearch?: string | undefined; "opensearch-index"?: string | undefined; "opensearch-push"?: boolean | undefined }): string[] {
  return [
    ...(o.provider ? ["--provider", o.provider] : []), ...(o.threads ? ["--threads", o.threads] : []), ...(o.pack ? ["--pack", resolve(o.pack)] : []),
    ...(o.opensearch ? ["--opensearch", o.opensearch] : []), ...(o["opensearch-index"] ? ["--opensearch-index", o["opensearch-index"]] : []), ...(o["opensearch-push"] ? ["--opensearch-push"] : []),
  ];
}

/**
 * What a started daemon's environment adds to the caller's (the caller's own values win). Both
 * are read by glibc at process start, so they are set here and not by the daemon itself.
 * - MALLOC_ARENA_MAX: glibc gives each thread that allocates its own malloc arena and keeps what
 *   onnxruntime's threads freed there; two arenas took the daemon at rest from 347 to 270 MB
 *   (fixtures/workspace indexed, after the document worker's idle stop), with no effect on
 *   encoding, which allocates from its own arena.
 * - MALLOC_MMAP_THRESHOLD_: blocks of 128 KiB and more (file buffers, tensors, segment arrays)
 *   get their own mappings, handed back to the system when freed, instead of the heap, where
 *   glibc raises the threshold after the first big frees and a few live blocks pin the rest.
 *   After indexing vuejs/core + fastify (10,147 chunks), 75 s after the document worker's
 *   stop: RSS 264 MB against 336 MB (heap 65 MB against 145 MB), indexing 317 s against
 *   338 s, peak 949 MB against 985 MB (one run each; a fresh daemon on that index holds 243 MB).
 */
export function daemonEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "131072", ...env };
}

/** Starts `loupe daemon run` detached, its output appended to `<cacheDir>/daemon.log`; resolves once it answers. */
export async function startDaemonProcess(o: Required<Pick<ClientOptions, "socketPath" | "cacheDir" | "startTimeoutMs" | "daemonArgs" | "loupeCommand">> & { env: NodeJS.ProcessEnv }): Promise<Socket> {
  await mkdir(o.cacheDir, { recursive: true });
  const logFile = join(o.cacheDir, "daemon.log");
  const log = await open(logFile, "a", 0o600);
  const [command, ...args] = o.loupeCommand;
  if (!command) throw new LoupeError(ErrorCode.DaemonUnavailable, "no command to start the Loupe daemon with (loupeCommand is empty)");
  const child = spawn(command, [...args, "daemon", "run", ...o.daemonArgs], {
    detached: true,
    stdio: ["ignore", log.fd, log.fd],
    env: { ...daemonEnv(o.env), LOUPE_CACHE_DIR: o.cacheDir, LOUPE_SOCKET: o.socketPath },
  });
  let exited: number | null = null;
  let spawnError: string | null = null;
  child.once("exit", (code) => (exited = code ?? 1));
  // ENOENT: `loupe` is not on PATH (the editor extension's setting points nowhere).
  child.once("error", (e) => {
    spawnError = `could not run ${JSON.stringify(command)} to start the Loupe daemon: ${e.message}; install Loupe or set the path of its \`loupe\` executable`;
    exited = 127;
  });
  child.unref();
  await log.close();
  const deadline = Date.now() + o.startTimeoutMs;
  for (;;) {
    try {
      return await connectSocket(o.socketPath);
    } catch {
      // Not listening yet.
    }
    if (exited !== null) {
      // Another client may have started one at the same time: ours lost the lock; use theirs,
      // waiting while it is still starting (it holds the lock before it listens).
      try {
        return await connectSocket(o.socketPath);
      } catch {
        if ((await lockHolder(`${o.socketPath}.lock`)) !== null && Date.now() < deadline) {
          await sleep(100);
          continue;
        }
        if (spawnError) throw new LoupeError(ErrorCode.DaemonUnavailable, spawnError);
        const tail = (await readFile(logFile, "utf8").catch(() => "")).trim().split("\n").slice(-5).join("\n");
        throw new LoupeError(ErrorCode.DaemonUnavailable, `the Loupe daemon exited with code ${exited} while starting. Its log (${logFile}) ends:\n${tail}`);
      }
    }
    if (Date.now() > deadline) throw new LoupeError(ErrorCode.DaemonUnavailable, `the Loupe daemon did not answer on ${o.socketPath} within ${o.startTimeoutMs / 1000} s; see ${logFile}`);
    await sleep(100);
  }
}

export class DaemonClient {
  private closed = false;
  private closeHandlers: Array<() => void> = [];

  private constructor(
    private readonly conn: MessageConnection,
    private readonly socket: Socket,
    readonly socketPath: string,
  ) {
    const onClose = () => {
      if (this.closed) return;
      this.closed = true;
      // vscode-jsonrpc rejects pending requests only on dispose; without it a request in flight
      // when the daemon dies would wait forever.
      conn.dispose();
      for (const h of this.closeHandlers) h();
    };
    conn.onClose(onClose);
    socket.on("close", onClose);
  }

  static async connect(options: ClientOptions = {}): Promise<DaemonClient> {
    // A daemon that was just killed can still accept a connection into its socket's backlog and
    // then drop it as it dies: connect again (starting a new daemon) a couple of times.
    for (let attempt = 0; ; attempt++) {
      try {
        return await DaemonClient.connectOnce(options);
      } catch (e) {
        if ((e as LoupeError).code !== ErrorCode.DaemonUnavailable || !(e as { initializing?: boolean }).initializing || attempt >= 2) throw e;
        await sleep(200);
      }
    }
  }

  private static async connectOnce(options: ClientOptions): Promise<DaemonClient> {
    const env = options.env ?? process.env;
    const socketPath = options.socketPath ?? defaultSocketPath(env);
    let socket: Socket;
    try {
      socket = await connectSocket(socketPath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (options.start === false || (code !== "ENOENT" && code !== "ECONNREFUSED")) {
        throw new LoupeError(ErrorCode.DaemonUnavailable, `no Loupe daemon answers on ${socketPath} (${code}); start one with \`loupe daemon start\``);
      }
      const cacheDir = options.cacheDir ?? defaultCacheDir(env);
      options.log?.(`starting the Loupe daemon (log: ${join(cacheDir, "daemon.log")})`);
      await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
      socket = await startDaemonProcess({ socketPath, cacheDir, env, startTimeoutMs: options.startTimeoutMs ?? 120_000, daemonArgs: options.daemonArgs ?? [], loupeCommand: options.loupeCommand ?? ["loupe"] });
    }
    const conn = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
    conn.listen();
    const client = new DaemonClient(conn, socket, socketPath);
    try {
      await client.call(InitializeRequest.type as never, { processId: null, clientInfo: { name: options.name ?? "loupe-cli" }, rootUri: null, capabilities: { window: { workDoneProgress: true } } });
    } catch (e) {
      client.close();
      throw Object.assign(e as Error, { initializing: true });
    }
    return client;
  }

  /** Called once when the connection ends (daemon stopped or crashed). */
  onClose(handler: () => void): void {
    this.closeHandlers.push(handler);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async call<P, R>(type: RequestType<P, R, ErrorData>, params: P): Promise<R> {
    if (this.closed) throw this.gone();
    try {
      return await this.conn.sendRequest<R>(type.method, params);
    } catch (e) {
      // Requests pending when the connection closed are rejected with a ResponseError as well.
      if (this.closed) throw this.gone();
      if (e instanceof ResponseError) {
        const data = e.data as ErrorData | undefined;
        throw new LoupeError((data?.code ?? "INTERNAL") as Code, e.message);
      }
      if (this.closed || /closed|disposed|ended/i.test((e as Error).message)) throw this.gone();
      throw e;
    }
  }

  private gone(): LoupeError {
    return new LoupeError(ErrorCode.DaemonUnavailable, "the connection to the Loupe daemon closed (it was stopped or crashed); run the command again to restart it");
  }

  /** Runs `body` with a fresh progress token whose `$/progress` reports go to `onProgress`. */
  private async withProgress<R>(onProgress: ((p: Progress) => void) | undefined, body: (token: string | undefined) => Promise<R>): Promise<R> {
    if (!onProgress) return body(undefined);
    const token = randomUUID();
    const sub = this.conn.onProgress(WorkDoneProgress.type, token, onProgress);
    try {
      return await body(token);
    } finally {
      sub.dispose();
    }
  }

  search(p: SearchParams): Promise<SearchResult> {
    return this.call(Requests.search, p);
  }
  read(p: ReadParams): Promise<ReadResult> {
    return this.call(Requests.read, p);
  }
  similar(p: SimilarParams): Promise<SearchResult> {
    return this.call(Requests.similar, p);
  }
  explain(p: ExplainParams): Promise<ExplainResult> {
    return this.call(Requests.explain, p);
  }
  status(): Promise<StatusResult> {
    return this.call(Requests.status as unknown as RequestType<void, StatusResult, ErrorData>, undefined);
  }
  /** Adds a root; `session`: only while this connection is open, not remembered (see RootStatus.lifetime). */
  addRoot(root: string, o: { wait?: boolean; session?: boolean; onProgress?: (p: Progress) => void } = {}): Promise<RootStatus> {
    return this.withProgress(o.onProgress, (token) =>
      this.call(Requests.addRoot, { root, wait: o.wait ?? false, ...(o.session ? { session: true } : {}), ...(token ? { workDoneToken: token } : {}) }));
  }
  removeRoot(root: string): Promise<StatusResult> {
    return this.call(Requests.removeRoot, { root });
  }
  /** Ends this connection's hold on a session root it added (see Requests.releaseRoot). */
  releaseRoot(root: string): Promise<StatusResult> {
    return this.call(Requests.releaseRoot, { root });
  }
  reindex(root: string | undefined, o: { wait?: boolean; onProgress?: (p: Progress) => void } = {}): Promise<StatusResult> {
    return this.withProgress(o.onProgress, (token) => this.call(Requests.reindex, { ...(root ? { root } : {}), wait: o.wait ?? false, ...(token ? { workDoneToken: token } : {}) }));
  }
  /** Asks the daemon to stop; resolves when it has closed the connection. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((r) => (this.closed ? r() : this.onClose(r)));
    try {
      await this.call(Requests.stop as unknown as RequestType<void, { stopping: true }, ErrorData>, undefined);
    } catch (e) {
      // The daemon may close the connection before its answer arrives: that is the stop too.
      if ((e as LoupeError).code !== ErrorCode.DaemonUnavailable) throw e;
    }
    await closed;
  }

  close(): void {
    if (this.closed) return;
    this.conn.dispose();
    this.socket.destroy();
  }
}
