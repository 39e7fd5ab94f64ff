// The `similar` tool: chunks whose meaning is close to a passage of the workspace, across
// languages and across code and notes (the passage is encoded like a document and searched in
// the latent channel only; the passage itself is left out).
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { filterShape, intArg, indexingField, indexingNote, LIMITS, pathArg, rootArg, SearchHit, z, SimilarParams } from "@loupe/protocol";
import { guarded, ok, reportProgress } from "../result.js";
import { fileFilters, hitText, READ_ONLY } from "../schemas.js";
import type { DaemonSession } from "../session.js";

export const similarInput = z.strictObject({
  path: pathArg,
  root: rootArg.optional(),
  startLine: SimilarParams.shape.startLine.unwrap().optional().describe("First line of the passage, 1-based. Without startLine/endLine the passage is the file's first chunk."),
  endLine: SimilarParams.shape.endLine.unwrap().optional().describe("Last line of the passage, inclusive."),
  limit: intArg("limit", 1, LIMITS.k).optional().describe(`Hits to return; default 10, at most ${LIMITS.k}.`),
  ...filterShape,
});

export const similarOutput = z.object({
  passage: z.string().describe("The passage searched from, as path:startLine-endLine."),
  hits: z.array(SearchHit).describe("Most similar first; the passage itself is left out."),
  indexing: indexingField,
});

export function registerSimilar(server: McpServer, session: DaemonSession, log: (line: string) => void): void {
  server.registerTool(
    "similar",
    {
      title: "Find similar code and notes",
      description:
        "Find chunks similar in meaning to a passage of the workspace (a file and line range, e.g. a search hit): other " +
        "implementations of the same idea, the same logic in another language, or the notes and docs that describe some code " +
        "(and the code a note describes). Filters as in `search`.",
      inputSchema: similarInput,
      outputSchema: similarOutput,
      annotations: { title: "Find similar code and notes", ...READ_ONLY },
    },
    (args, extra) =>
      guarded(async () => {
        const result = await session.inRoot(args.path, args.root, (client, root) => {
          const p: SimilarParams = {
            path: args.path,
            root,
            roots: args.roots ? args.roots.map((r) => session.rootNamed(r)) : session.roots,
            ...(args.startLine !== undefined ? { startLine: args.startLine } : {}),
            ...(args.endLine !== undefined ? { endLine: args.endLine } : {}),
            ...(args.limit !== undefined ? { k: args.limit } : {}),
            ...fileFilters(args),
          };
          return client.similar(p);
        });
        const note = indexingNote(result.indexing);
        if (result.indexing) await reportProgress(extra, result.indexing.done, result.indexing.total || undefined, note!);
        const absolute = session.roots.length > 1;
        const text =
          (note ? `${note}\n` : "") +
          (result.hits.length === 0
            ? `nothing similar to ${result.query} found.\n`
            : `${result.hits.length} chunks similar to ${result.query}:\n` + result.hits.map((h, i) => hitText(h, i + 1, absolute)).join(""));
        return ok({ passage: result.query, hits: result.hits, indexing: result.indexing }, text);
      }, log),
  );
}
