// `loupe lsp`: Loupe as a language server, one process per editor over stdio, relaying to the
// shared daemon through @loupe/protocol's DaemonClient (the daemon outlives every editor). A
// thin adapter: the editor's workspace folders become session roots of this connection; LSP's
// `workspace/symbol` is answered by Loupe's search, so any editor's symbol picker gets search by
// meaning with no plugin; indexing is reported as LSP work-done progress; and Loupe's own
// requests (`loupe/search`, `loupe/similar`, `loupe/explain`, `loupe/status`, `loupe/read`,
// `loupe/reindex`) are relayed for the VS Code extension, scoped to this editor's folders.
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  createConnection, MessageType, ResponseError, ShowMessageNotification, SymbolKind, TextDocumentSyncKind, type Connection, type InitializeParams, type SymbolInformation,
  type WorkspaceFolder,
} from "vscode-languageserver/node";
import {
  DaemonClient, daemonArgsOf, ErrorCode, hitTitle, isLoupeError, LIMITS, LoupeError, Requests, RPC_ERROR, type Progress, type SearchFilters, type SearchHit,
  type StatusResult,
} from "@loupe/protocol";

/** What the `loupe` executable tells the language server it runs in. */
export interface LspHost {
  version: string;
  /** The command that runs `loupe`, to start the daemon when none answers. */
  loupeCommand: string[];
}

/** Daemon losses (a connection that dropped, a start that failed) this close together count as repeated. */
export const DAEMON_FAILURE_WINDOW_MS = 3 * 60_000;
/** Losses within the window after which the daemon is not started again until the user asks (`loupe/reindex`). */
export const DAEMON_MAX_FAILURES = 3;

/** Hits a `workspace/symbol` request returns. */
export const SYMBOL_HITS = 50;

/** A hit as an LSP symbol: named by its symbol or heading (else its best line), located at the lines that answer the query. */
export function hitSymbol(h: SearchHit): SymbolInformation {
  const name = hitTitle(h, 80);
  const kind = h.kind === "notes" ? SymbolKind.String : h.symbol.includes(".") ? SymbolKind.Method : h.symbol ? SymbolKind.Function : SymbolKind.File;
  return {
    name,
    kind,
    containerName: `${h.path}:${h.startLine}`,
    location: {
      uri: pathToFileURL(h.file).href,
      range: { start: { line: h.snippetStartLine - 1, character: 0 }, end: { line: h.snippetEndLine, character: 0 } },
    },
  };
}

/** A folder as the daemon names its root: absolute, symbolic links resolved (as given when it cannot be). */
function realFolder(path: string): string {
  try {
    return realpathSync(resolve(path));
  } catch {
    return resolve(path);
  }
}

/**
 * The folders an editor opened: workspace folders, else the root URI or path. None (an editor
 * with a lone file) means no folder is added: searches then cover the user's saved roots, and
 * nothing, least of all a home folder, starts indexing because of where the editor was started.
 */
export function foldersOf(p: InitializeParams): string[] {
  const uris = p.workspaceFolders?.length ? p.workspaceFolders.map((f) => f.uri) : p.rootUri ? [p.rootUri] : [];
  const files = uris.filter((u) => u.startsWith("file:")).map((u) => fileURLToPath(u));
  return (files.length ? files : p.rootPath ? [p.rootPath] : []).map(realFolder);
}

/** LoupeErrors keep their code for the editor (`data.code`), like the daemon's own answers. */
function asResponseError(e: unknown): ResponseError<{ code: string }> {
  if (isLoupeError(e)) return new ResponseError(RPC_ERROR.loupe, e.message, { code: e.code });
  return new ResponseError(RPC_ERROR.internal, (e as Error).message ?? String(e), { code: "INTERNAL" });
}

export class LoupeLanguageServer {
  private folders: string[] = [];
  private client: Promise<DaemonClient> | null = null;
  private progressSupported = false;
  private foldersSupported = false;
  /** When the daemon was lost lately (see DAEMON_MAX_FAILURES). */
  private failures: number[] = [];
  /** Set once the daemon was lost too often: why no request starts it again. */
  private gaveUp: string | null = null;
  /** Globs the editor's settings leave out of every result (`initializationOptions.exclude`). */
  private exclude: string[] = [];

  constructor(
    private readonly conn: Connection,
    private readonly host: LspHost,
    private readonly daemonArgs: string[],
  ) {}

  private log(line: string): void {
    this.conn.console.log(`loupe: ${line}`);
  }

  /** An error the user should see (a notification: it needs no answer, so no client can fail it). */
  private tell(message: string): void {
    void this.conn.sendNotification(ShowMessageNotification.type, { type: MessageType.Error, message }).catch(() => {});
  }

  listen(): void {
    const c = this.conn;
    c.onInitialize((p) => {
      this.folders = foldersOf(p);
      this.progressSupported = p.capabilities.window?.workDoneProgress === true;
      this.foldersSupported = p.capabilities.workspace?.workspaceFolders === true;
      const o = p.initializationOptions as { exclude?: unknown } | undefined;
      this.exclude = Array.isArray(o?.exclude) ? o.exclude.filter((g): g is string => typeof g === "string" && g !== "").slice(0, LIMITS.filterEntries) : [];
      return {
        capabilities: {
          workspaceSymbolProvider: true,
          textDocumentSync: TextDocumentSyncKind.None,
          workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
        },
        serverInfo: { name: "loupe", version: this.host.version },
      };
    });
    c.onInitialized(() => {
      // Folder changes can be listened to only once the client said it sends them.
      if (this.foldersSupported) {
        c.workspace.onDidChangeWorkspaceFolders((e) => {
          const removed = new Set(e.removed.map((f: WorkspaceFolder) => realFolder(fileURLToPath(f.uri))));
          const added = e.added.map((f: WorkspaceFolder) => realFolder(fileURLToPath(f.uri)));
          this.folders = [...this.folders.filter((f) => !removed.has(f)), ...added];
          void this.addFolders(added);
          // A folder the editor closed is no longer this editor's: the daemon closes it unless someone else holds it.
          for (const f of removed) void this.daemon().then((client) => client.releaseRoot(f)).catch((e: Error) => this.log(`could not release ${f}: ${e.message}`));
        });
      }
      void this.addFolders(this.folders);
    });
    c.onWorkspaceSymbol(async (p) => {
      if (p.query.trim() === "") return [];
      const r = await this.relay((client) => client.search({ query: p.query.slice(0, LIMITS.queryChars), k: SYMBOL_HITS, ...this.scoped({}), ...this.excluded({}) }));
      return r.hits.map(hitSymbol);
    });
    // Loupe's own requests, scoped to this editor's folders unless the request names its roots.
    // A missing or non-object parameter goes on as-is, so the daemon's own check answers it (BAD_ARGUMENT).
    // A search of the shared cluster index (scope "cluster") is not narrowed to this editor's folders.
    const withScope = (p: unknown) =>
      p !== null && typeof p === "object" && !Array.isArray(p) ? { ...p, ...((p as { scope?: unknown }).scope === "cluster" ? {} : this.scoped(p as SearchFilters)), ...this.excluded(p as SearchFilters) } : p;
    c.onRequest(Requests.search.method, (p: unknown) => this.relay((client) => client.search(withScope(p) as never)));
    c.onRequest(Requests.similar.method, (p: unknown) => this.relay((client) => client.similar(withScope(p) as never)));
    c.onRequest(Requests.explain.method, (p: unknown) => this.relay((client) => client.explain(p as never)));
    c.onRequest(Requests.read.method, (p: unknown) => this.relay((client) => client.read(p as never)));
    c.onRequest(Requests.status.method, () => this.relay((client) => client.status()).then((s) => this.ours(s)));
    c.onRequest(Requests.reindex.method, async () => {
      // The user asks explicitly: a daemon given up on gets another chance.
      this.gaveUp = null;
      this.failures = [];
      const s = await this.relay(async (client) => {
        let last: StatusResult | null = null;
        for (const root of this.scope() ?? [undefined]) last = await client.reindex(root);
        return last ?? client.status();
      });
      void this.reportIndexing(this.folders, "Reindexing");
      return this.ours(s);
    });
    c.onShutdown(() => this.close());
    c.listen();
  }

  /** A request's `roots`: as asked, else this editor's folders (none: every root). */
  private scoped(p: SearchFilters | null | undefined): { roots?: string[] } {
    const roots = p?.roots ?? this.scope();
    return roots ? { roots } : {};
  }

  /** A request's `exclude` with the editor's own globs added. */
  private excluded(p: SearchFilters | null | undefined): { exclude?: string[] } {
    const all = [...(Array.isArray(p?.exclude) ? p.exclude : []), ...this.exclude];
    return all.length ? { exclude: all } : {};
  }

  /** This editor's roots as the daemon names them (the folders, resolved); undefined without folders: every root the daemon serves. */
  private scope(): string[] | undefined {
    return this.folders.length ? this.folders : undefined;
  }

  /** The daemon's status with only this editor's roots (all of them when it has no folder). */
  private ours(s: StatusResult): StatusResult {
    if (this.folders.length === 0) return s;
    const mine = new Set(this.folders);
    return { ...s, roots: s.roots.filter((r) => mine.has(r.root)) };
  }

  /** The daemon connection, made (and the daemon started) on first use and again after the daemon went away. */
  private daemon(): Promise<DaemonClient> {
    if (this.gaveUp) return Promise.reject(new LoupeError(ErrorCode.DaemonUnavailable, this.gaveUp));
    if (!this.client) {
      const made = DaemonClient.connect({ start: true, name: "loupe-lsp", daemonArgs: this.daemonArgs, loupeCommand: this.host.loupeCommand, log: (l) => this.log(l) })
        .then(async (client) => {
          client.onClose(() => {
            if (this.client === made) this.client = null;
            if (this.closing) return;
            this.log("the daemon connection closed; the next request reconnects (starting the daemon if needed)");
            this.lost();
          });
          // Session roots belong to a connection: a new connection holds them again.
          for (const f of this.folders) await client.addRoot(f, { session: true }).catch((e: Error) => this.log(`could not add ${f}: ${e.message}`));
          return client;
        });
      made.catch(() => {
        if (this.client === made) this.client = null;
        this.lost();
      });
      this.client = made;
    }
    return this.client;
  }

  /** Counts a lost daemon; past DAEMON_MAX_FAILURES in the window, stops starting it and tells the user why. */
  private lost(): void {
    const now = Date.now();
    this.failures = [...this.failures.filter((t) => now - t < DAEMON_FAILURE_WINDOW_MS), now];
    if (this.failures.length < DAEMON_MAX_FAILURES || this.gaveUp) return;
    this.gaveUp =
      `the Loupe daemon stopped or failed to start ${this.failures.length} times in ${DAEMON_FAILURE_WINDOW_MS / 60_000} minutes, so it is not started again; ` +
      "its log (daemon.log in Loupe's cache folder) says why. Reindex (loupe/reindex) or restart the editor to try again";
    this.log(this.gaveUp);
    this.tell(`Loupe: ${this.gaveUp}`);
  }

  /** One daemon call; a call the daemon's death interrupted is made once more on a fresh connection (all of them only read, or are idempotent). */
  private async relay<R>(call: (client: DaemonClient) => Promise<R>): Promise<R> {
    try {
      try {
        return await call(await this.daemon());
      } catch (e) {
        if (!isLoupeError(e) || e.code !== ErrorCode.DaemonUnavailable) throw e;
        return await call(await this.daemon());
      }
    } catch (e) {
      throw asResponseError(e);
    }
  }

  private async addFolders(folders: string[]): Promise<void> {
    if (folders.length === 0) return;
    try {
      await this.daemon();
    } catch (e) {
      this.tell(`Loupe could not start its daemon: ${(e as Error).message}`);
      return;
    }
    await this.reportIndexing(folders, "Indexing");
  }

  /** Waits for `folders` to be indexed, as work-done progress the editor shows (when it supports it). */
  private async reportIndexing(folders: string[], verb: string): Promise<void> {
    for (const folder of folders) {
      const reporter = this.progressSupported ? await this.conn.window.createWorkDoneProgress().catch(() => null) : null;
      reporter?.begin(`Loupe: ${verb.toLowerCase()} ${folder}`, 0, undefined, false);
      try {
        const client = await this.daemon();
        await client.addRoot(folder, {
          session: true,
          wait: true,
          onProgress: (p: Progress) => {
            if (p.kind === "report") reporter?.report(p.percentage ?? 0, p.message ?? "");
          },
        });
      } catch (e) {
        if (this.closing) return; // the editor is leaving: nothing to tell
        this.log(`${verb.toLowerCase()} ${folder} failed: ${(e as Error).message}`);
        this.tell(`Loupe could not index ${folder}: ${(e as Error).message}`);
      } finally {
        reporter?.done();
      }
    }
  }

  private closing = false;

  private async close(): Promise<void> {
    this.closing = true;
    const client = this.client;
    this.client = null;
    (await client?.catch(() => null))?.close();
  }
}

/** `loupe lsp [--provider …] [--threads N] [--pack DIR]`: serves one editor on stdin/stdout until it exits. */
export async function runLspCommand(values: { provider?: string; threads?: string; pack?: string }, host: LspHost): Promise<void> {
  const conn = createConnection(process.stdin, process.stdout);
  // One failed promise must not take the editor's server down: log it and go on.
  process.on("unhandledRejection", (e) => conn.console.error(`loupe: unhandled rejection: ${(e as Error)?.stack ?? e}`));
  new LoupeLanguageServer(conn, host, daemonArgsOf(values)).listen();
  await new Promise<void>((done) => conn.onExit(() => done()));
}
