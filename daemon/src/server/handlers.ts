// The daemon's requests, one handler each. A handler gets parameters already checked against
// the protocol's schema (server/daemon.ts does that at the edge) and the connection that asked,
// and calls the core; nothing here parses or validates.
import type { MessageConnection, ProgressToken } from "vscode-languageserver-protocol/node";
import type { ParamSchemas, Requests, ResultOf, StatusResult, z } from "@loupe/protocol";
import type { Loupe } from "../core/loupe.js";
import type { RootIndex } from "../core/root-index.js";
import type { SavedRoots } from "./saved-roots.js";

type Method = keyof typeof Requests;
type ParamsOf<M extends Method> = (typeof ParamSchemas)[M] extends z.ZodType ? z.infer<(typeof ParamSchemas)[M]> : undefined;

export type Handlers = { [M in Method]: (params: ParamsOf<M>, conn: MessageConnection) => Promise<ResultOf<M>> };

export interface HandlerContext {
  loupe: Loupe;
  saved: SavedRoots;
  status(): Promise<StatusResult>;
  /** Resolves when `root` is idle, reporting its indexing on `token` meanwhile. */
  indexing(conn: MessageConnection, token: ProgressToken | undefined, root: RootIndex, title: string): Promise<void>;
  /** Stops the daemon soon (after the answer has gone out). */
  stopSoon(): void;
}

export function requestHandlers(c: HandlerContext): Handlers {
  const { loupe } = c;
  return {
    status: () => c.status(),
    search: (p) => loupe.search(p),
    read: (p) => loupe.read(p),
    similar: (p) => loupe.similar(p),
    explain: (p) => loupe.explain(p),
    async addRoot(p, conn) {
      const r = p.session === true ? await loupe.addRoot(p.root, { session: conn }) : await c.saved.add(p.root);
      if (p.wait) await c.indexing(conn, p.workDoneToken, r, `Indexing ${r.root}`);
      return loupe.rootStatus(r);
    },
    async releaseRoot(p, conn) {
      await loupe.releaseSessionRoot(p.root, conn);
      return c.status();
    },
    async removeRoot(p) {
      await c.saved.remove(p.root);
      return c.status();
    },
    async reindex(p, conn) {
      await loupe.reindex(p.root);
      if (p.wait) for (const r of loupe.rootList()) if (!p.root || r.root === p.root) await c.indexing(conn, p.workDoneToken, r, `Reindexing ${r.root}`);
      return c.status();
    },
    async stop() {
      c.stopSoon();
      return { stopping: true as const };
    },
  };
}
