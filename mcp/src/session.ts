// The MCP server's link to the shared daemon. It connects (starting the daemon when none
// answers), registers this server's workspace roots without waiting for their indexing, and
// after the daemon went away reconnects on the next call — restarting it, and the daemon brings
// its roots back from `roots.json`. The session also keeps tools inside this server's roots:
// the daemon serves every root its user added, an MCP server only the ones it was started with.
import { ErrorCode, isLoupeError, LoupeError, type DaemonClient } from "@loupe/protocol";

export interface SessionOptions {
  /** Workspace roots, absolute (the `--root` folders). */
  roots: string[];
  /** Opens a client, starting the daemon when none answers. */
  connect: () => Promise<DaemonClient>;
  log: (line: string) => void;
}

export class DaemonSession {
  private client: DaemonClient | null = null;
  private pending: Promise<DaemonClient> | null = null;
  private closing = false;
  /** Each root as given → as the daemon registered it (symbolic links resolved). */
  private readonly registered = new Map<string, string>();
  /** Roots the daemon refused, with its message (retried on every call). */
  readonly rootErrors = new Map<string, string>();

  constructor(private readonly o: SessionOptions) {}

  /** The roots as configured (before the daemon resolved them). */
  get configuredRoots(): readonly string[] {
    return this.o.roots;
  }

  /** The roots the daemon serves for this session, as it names them in results. */
  get roots(): string[] {
    return [...new Set(this.registered.values())];
  }

  /** Connects in the background so that the first tool call finds the daemon ready. */
  warmUp(): void {
    this.get().catch((e) => this.o.log(`the Loupe daemon is not available yet: ${(e as Error).message}`));
  }

  private async get(): Promise<DaemonClient> {
    if (this.client && !this.client.isClosed) {
      if (this.rootErrors.size > 0) await this.register(this.client, [...this.rootErrors.keys()]);
      return this.client;
    }
    this.client = null;
    this.pending ??= this.open().finally(() => (this.pending = null));
    return this.pending;
  }

  private async open(): Promise<DaemonClient> {
    const client = await this.o.connect();
    client.onClose(() => {
      if (!this.closing) this.o.log("the connection to the Loupe daemon closed; the next tool call reconnects (restarting it)");
    });
    try {
      await this.register(client, this.o.roots);
    } catch (e) {
      client.close();
      throw e;
    }
    this.client = client;
    return client;
  }

  /** Adds roots to the daemon without waiting for indexing; a refused root is remembered, not fatal. */
  private async register(client: DaemonClient, roots: readonly string[]): Promise<void> {
    for (const root of roots) {
      try {
        // Session roots: the daemon serves them while this server is connected, then closes them.
        const s = await client.addRoot(root, { wait: false, session: true });
        this.registered.set(root, s.root);
        this.rootErrors.delete(root);
      } catch (e) {
        if (!isLoupeError(e) || e.code === ErrorCode.DaemonUnavailable) throw e;
        this.rootErrors.set(root, e.message);
        this.o.log(`the daemon refused the workspace root ${root}: ${e.message}`);
      }
    }
  }

  /**
   * Runs one request against the daemon with this session's roots. A daemon that goes away
   * during the call becomes an error the agent can act on; the next call reconnects.
   */
  async call<R>(body: (client: DaemonClient, roots: string[]) => Promise<R>): Promise<R> {
    // Every tool only reads, so a call the daemon's death interrupted is simply made again, once,
    // on a fresh connection (restarting the daemon): the agent never sees a crash it cannot fix.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callOnce(body);
      } catch (e) {
        if (attempt > 0 || !isLoupeError(e) || e.code !== ErrorCode.DaemonUnavailable) throw e;
        this.o.log(`the Loupe daemon went away during a call (${e.message.split("\n")[0]}); reconnecting and trying once more`);
      }
    }
  }

  private async callOnce<R>(body: (client: DaemonClient, roots: string[]) => Promise<R>): Promise<R> {
    const client = await this.get();
    const roots = this.roots;
    if (roots.length === 0) {
      const why = [...this.rootErrors].map(([r, m]) => `${r}: ${m}`).join("\n");
      throw new LoupeError(ErrorCode.NoRoots, `none of this server's workspace roots could be indexed:\n${why}\nFix that as the message says and call again (the server retries its roots on every call), or change the --root folders in the MCP server's configuration.`);
    }
    try {
      return await body(client, roots);
    } catch (e) {
      if (isLoupeError(e) && e.code === ErrorCode.DaemonUnavailable) {
        // Drop the dead connection now rather than wait for its close event.
        if (this.client === client) this.client = null;
        client.close();
        throw new LoupeError(
          ErrorCode.DaemonUnavailable,
          "the Loupe daemon went away during this call (it crashed or was stopped). Call the tool again: the server restarts the daemon and reconnects; the index on disk is kept.",
        );
      }
      throw e;
    }
  }

  /** The registered root a `root` argument names (as configured or as resolved); an error listing the choices otherwise. */
  rootNamed(root: string): string {
    const hit = this.registered.get(root) ?? this.roots.find((r) => r === root || r === root.replace(/\/+$/, ""));
    if (hit) return hit;
    throw new LoupeError(ErrorCode.BadArgument, `root ${JSON.stringify(root)} is not one of this server's workspace roots: ${this.roots.join(", ")}. Leave root out to use them all.`);
  }

  /**
   * Runs a per-file request (read, similar, explain) against the right root: the one named, the
   * only one, or each in turn until one holds the path. Always passes a root, so the daemon
   * never resolves the path against another session's roots.
   */
  async inRoot<R>(path: string, root: string | undefined, body: (client: DaemonClient, root: string) => Promise<R>): Promise<R> {
    return this.call(async (client, roots) => {
      const candidates = root !== undefined ? [this.rootNamed(root)] : roots;
      let first: LoupeError | null = null;
      for (const r of candidates) {
        try {
          return await body(client, r);
        } catch (e) {
          // A relative path missing under one root may be under the next.
          if (!(isLoupeError(e) && (e.code === ErrorCode.NotFound || e.code === ErrorCode.OutsideRoots)) || candidates.length === 1) throw e;
          // Report "does not exist" over "outside the roots" when the roots disagree.
          if (!first || (first.code === ErrorCode.OutsideRoots && e.code === ErrorCode.NotFound)) first = e;
        }
      }
      throw first;
    });
  }

  close(): void {
    this.closing = true;
    this.client?.close();
    this.client = null;
  }
}
