// The `read` tool: lines of a file inside a workspace root. The daemon refuses anything whose
// real location (after `..` and symbolic links) is outside the roots, and files the ignore rules
// skip; this tool only chooses the window and numbers the lines for the text mirror.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, ExplainParams, LIMITS, LoupeError, pathArg, ReadParams, ReadResult, rootArg, z } from "@loupe/protocol";
import { guarded, ok } from "../result.js";
import { READ_ONLY } from "../schemas.js";
import type { DaemonSession } from "../session.js";

/** Lines around `line` when only a line is given: a chunk is at most 60 lines, so this covers the chunk holding it. */
export const AROUND_BEFORE = 10;
export const AROUND_AFTER = 49;
/** Lines returned when no end is given (the daemon's default) and the most one call returns (keeps an agent's context small). */
export const DEFAULT_LINES = LIMITS.readDefaultLines;
export const MAX_LINES = 500;

export const readInput = z.strictObject({
  path: pathArg,
  root: rootArg.optional(),
  startLine: ReadParams.shape.startLine.describe("First line to return, 1-based (a hit's startLine). Default 1, or 10 lines before `line`."),
  endLine: ReadParams.shape.endLine.describe(`Last line to return, inclusive (a hit's endLine). Default ${DEFAULT_LINES} lines from startLine; at most ${MAX_LINES} lines per call.`),
  line: ExplainParams.shape.line.optional().describe("A line of interest (e.g. from a hit or a stack trace): without startLine/endLine, returns the 60 lines around it."),
});

export const readOutput = ReadResult.extend({
  nextStartLine: z.number().int().nullable().describe("Where to continue reading (endLine + 1), or null at the end of the file."),
});

export function registerRead(server: McpServer, session: DaemonSession, log: (line: string) => void): void {
  server.registerTool(
    "read",
    {
      title: "Read lines of a workspace file",
      description:
        "Read a file of the workspace, or a window of it: pass a search hit's path with its startLine and endLine, or a `line` to " +
        `get the 60 lines around it; without either, the first ${DEFAULT_LINES} lines. At most ${MAX_LINES} lines per call (continue with ` +
        "nextStartLine). Only files inside the workspace roots that Loupe indexes can be read.",
      inputSchema: readInput,
      outputSchema: readOutput,
      annotations: { title: "Read lines of a workspace file", ...READ_ONLY },
    },
    (args) =>
      guarded(async () => {
        let start = args.startLine;
        let end = args.endLine;
        if (args.line !== undefined && start === undefined && end === undefined) {
          start = Math.max(1, args.line - AROUND_BEFORE);
          end = args.line + AROUND_AFTER;
        }
        if (start !== undefined && end !== undefined && end < start) {
          throw new LoupeError(ErrorCode.BadArgument, `endLine (${end}) is before startLine (${start}); give a range with startLine ≤ endLine`);
        }
        const first = start ?? 1;
        end = Math.min(end ?? first + DEFAULT_LINES - 1, first + MAX_LINES - 1);
        const r = await session.inRoot(args.path, args.root, (client, root) =>
          client.read({ path: args.path, root, ...(start !== undefined ? { startLine: start } : {}), endLine: end }),
        );
        const nextStartLine = r.endLine < r.totalLines ? r.endLine + 1 : null;
        const width = String(r.endLine).length;
        const numbered = r.text.split("\n").map((l, i) => `${String(r.startLine + i).padStart(width)}  ${l}`).join("\n");
        const text =
          `${r.path} lines ${r.startLine}-${r.endLine} of ${r.totalLines} (root ${r.root}):\n${numbered}\n` +
          (nextStartLine ? `(more: read again with startLine ${nextStartLine})\n` : "");
        return ok({ ...r, nextStartLine }, text);
      }, log),
  );
}
