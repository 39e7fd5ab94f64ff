// The `search` tool: one page of hits over this server's roots, with an opaque cursor for the
// next page. While a root is still indexing it answers with what is indexed so far and a note
// (not an error): partial results are better than none.
import { createHash } from "node:crypto";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, filterShape, intArg, modeArg, scopeArg, indexingField, indexingNote, LIMITS, LoupeError, queryArg, SEARCH_MODES, SearchHit, z, type SearchParams } from "@loupe/protocol";
import { guarded, ok, reportProgress } from "../result.js";
import { fileFilters, hitText, READ_ONLY } from "../schemas.js";
import type { DaemonSession } from "../session.js";

/** Longer than any cursor encodeCursor makes (about 40 characters). */
const CURSOR_CHARS = 200;

export const searchInput = z.strictObject({
  query: queryArg,
  limit: intArg("limit", 1, LIMITS.k).optional().describe(`Hits per page; default 10, at most ${LIMITS.k}.`),
  mode: modeArg.optional(),
  scope: scopeArg.optional(),
  ...filterShape,
  cursor: z
    .string()
    .max(CURSOR_CHARS, "cursor is longer than any this server gives out; pass the `nextCursor` of the previous page unchanged")
    .optional()
    .describe("`nextCursor` from the previous page of the same search (same query, mode and filters) to get the next page."),
});

export const searchOutput = z.object({
  query: z.string().describe("The query as searched."),
  mode: z.enum(SEARCH_MODES).describe("The retrieval mode used."),
  hits: z.array(SearchHit).describe("Best first."),
  nextCursor: z.string().nullable().describe("Pass as `cursor` with the same arguments for the next page; null when there are no more hits."),
  indexing: indexingField,
});

type SearchArgs = z.infer<typeof searchInput>;

/** Cursors carry the offset and a hash of the search they belong to, so one is never applied to another query. */
function searchKey(a: SearchArgs): string {
  const key = [a.query, a.mode ?? "hybrid", a.paths ?? [], a.exclude ?? [], a.kinds ?? [], a.languages ?? [], a.roots ?? [], a.limit ?? 10, a.scope ?? "local"];
  return createHash("sha256").update(JSON.stringify(key)).digest("base64url").slice(0, 12);
}

export function encodeCursor(offset: number, key: string): string {
  return Buffer.from(JSON.stringify({ o: offset, k: key })).toString("base64url");
}

export function decodeCursor(cursor: string, key: string): number {
  let parsed: { o?: unknown; k?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as typeof parsed;
  } catch {
    parsed = {};
  }
  if (typeof parsed.o !== "number" || !Number.isInteger(parsed.o) || parsed.o < 0) {
    throw new LoupeError(ErrorCode.BadArgument, "cursor is not one this server gave out; pass the `nextCursor` of the previous page unchanged, or leave cursor out for the first page");
  }
  if (parsed.k !== key) {
    throw new LoupeError(ErrorCode.BadArgument, "cursor belongs to a different search; repeat the previous page's query, mode, limit and filters unchanged with it, or leave cursor out to start a new search");
  }
  return parsed.o;
}

export function registerSearch(server: McpServer, session: DaemonSession, log: (line: string) => void): void {
  server.registerTool(
    "search",
    {
      title: "Search the workspace",
      description:
        "Search this workspace's code and notes by meaning and by exact words. Returns ranked chunks (path, 1-based line range, " +
        "symbol or heading, snippet, shared concepts). Use it before reading files: then call `read` with a hit's path and " +
        "startLine/endLine. Narrow with paths/exclude globs, kinds (code or notes) and languages; page with cursor. " +
        'scope "cluster" searches the team\'s shared index instead, when the daemon has one (status says so).',
      inputSchema: searchInput,
      outputSchema: searchOutput,
      annotations: { title: "Search the workspace", ...READ_ONLY },
    },
    (args, extra) =>
      guarded(async () => {
        const key = searchKey(args);
        const offset = args.cursor === undefined ? 0 : decodeCursor(args.cursor, key);
        const result = await session.call((client, roots) => {
          // The team's shared index holds other roots than this server's; there `roots` name pushed roots.
          const cluster = args.scope === "cluster";
          const p: SearchParams = {
            query: args.query,
            ...(cluster ? { scope: "cluster" as const, ...(args.roots ? { roots: args.roots } : {}) } : { roots: args.roots ? args.roots.map((r) => session.rootNamed(r)) : roots }),
            ...(args.limit !== undefined ? { k: args.limit } : {}),
            ...(offset > 0 ? { offset } : {}),
            ...(args.mode ? { mode: args.mode } : {}),
            ...fileFilters(args),
          };
          return client.search(p);
        });
        const note = indexingNote(result.indexing);
        if (result.indexing) await reportProgress(extra, result.indexing.done, result.indexing.total || undefined, note!);
        const nextCursor = result.nextOffset === null ? null : encodeCursor(result.nextOffset, key);
        const absolute = session.roots.length > 1;
        const text =
          (note ? `${note}\n` : "") +
          (result.hits.length === 0
            ? `no hits for ${JSON.stringify(result.query)} (${result.mode})${offset > 0 ? " on this page" : ""}. Try other words, mode "latent" for paraphrases, or fewer filters.\n`
            : `${result.hits.length} hits for ${JSON.stringify(result.query)} (${result.mode}):\n` + result.hits.map((h, i) => hitText(h, offset + i + 1, absolute)).join("")) +
          (nextCursor ? `more: call search again with the same arguments and cursor "${nextCursor}"\n` : "");
        return ok({ query: result.query, mode: result.mode, hits: result.hits, nextCursor, indexing: result.indexing }, text);
      }, log),
  );
}
