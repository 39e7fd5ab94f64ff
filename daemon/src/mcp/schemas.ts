// The zod schemas the MCP tools share: search filters (input) and hits (output). Every field
// carries a description, because the model that calls the tools reads nothing else.
import { z } from "zod";
import { LIMITS, numberedSnippet, type SearchHit } from "../protocol.js";

/** Annotations of every Loupe tool: they read the index and the workspace, and change neither. */
export const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

// Every input is bounded by LIMITS, so that no call makes the daemon encode, hold or echo more
// than they allow; the messages name the bound because the model reading them can fix its call.

/** A query as `search` and `explain` take it. */
export const queryArg = z
  .string()
  .min(1)
  .max(LIMITS.queryChars, `query is longer than ${LIMITS.queryChars} characters; search with a question, an identifier or a short passage (for a longer passage, call \`similar\` on its file and lines)`);

export const rootArg = z
  .string()
  .max(LIMITS.pathChars, `root is longer than ${LIMITS.pathChars} characters; name a root as \`status\` lists it`)
  .describe("Which workspace root `path` is relative to, as `status` or a hit's `root` names it. Needed only when the server has several roots and the path is relative and ambiguous.");

export const pathArg = z
  .string()
  .min(1)
  .max(LIMITS.pathChars, `path is longer than ${LIMITS.pathChars} characters; pass a file's path as search hits give it`)
  .describe("A file inside a workspace root: root-relative with `/` separators as search hits give it (`src/retry.py`), or absolute. Paths outside the roots are refused.");

/** One entry of a filter list: a glob, a language or a root. */
const filterEntry = z.string().min(1).max(LIMITS.pathChars, `a filter entry is longer than ${LIMITS.pathChars} characters; use a shorter glob`);

/** A filter list of at most LIMITS.filterEntries entries. */
function filterList<T extends z.ZodType>(entry: T) {
  return z.array(entry).max(LIMITS.filterEntries, `a filter list has more than ${LIMITS.filterEntries} entries; combine globs with braces (\`src/{a,b}/**\`) or filter less`);
}

/** Filters shared by `search` and `similar`. */
export const filterShape = {
  paths: filterList(filterEntry)
    .optional()
    .describe('Only files whose root-relative path matches one of these globs, e.g. ["src/**/*.ts", "docs/**"].'),
  exclude: filterList(filterEntry)
    .optional()
    .describe('Leave out files whose root-relative path matches any of these globs, e.g. ["**/*.test.ts", "vendor/**"].'),
  kinds: filterList(z.enum(["code", "notes"]))
    .optional()
    .describe('Only source code ("code") or only notes and documentation ("notes": markdown, plain text); default both.'),
  languages: filterList(filterEntry)
    .optional()
    .describe('Only these languages, named by file extension as hits give them in `language` (e.g. "ts", "py", "go", "md").'),
  roots: filterList(filterEntry)
    .optional()
    .describe("Only these workspace roots (absolute, as `status` lists them); default all of this server's roots."),
};

export const conceptSchema = z.object({
  id: z.number().int().describe("The latent's number in the model pack."),
  label: z.string().describe("A readable label for the concept, from the texts that activate it most (\"\" when unknown)."),
  weight: z.number().describe("Its share of the meaning score: query weight × chunk weight."),
});

export const hitSchema = z.object({
  path: z.string().describe("File path relative to its root, `/`-separated; pass it to `read`."),
  root: z.string().describe("The workspace root holding the file (absolute)."),
  file: z.string().describe("Absolute path of the file."),
  startLine: z.number().int().describe("First line of the matching chunk, 1-based."),
  endLine: z.number().int().describe("Last line of the chunk, 1-based, inclusive."),
  score: z.number().describe("Relevance on one scale for search, similar and explain: about 1 for the best match of a query (each channel relative to its best chunk), lower for weaker ones; lowered for changelogs, lock and generated files and for a file's further hits on a page, raised when the chunk's symbol is named in the query."),
  snippet: z.string().describe("Up to 6 lines of the chunk that best match the query's words (its first lines when none match), \"\\n\"-separated."),
  snippetStartLine: z.number().int().describe("File line of the snippet's first line, 1-based."),
  snippetEndLine: z.number().int().describe("File line of the snippet's last line, 1-based."),
  symbol: z.string().describe("Enclosing declaration (`Server.handle`) or heading path (`Guide > Install`); \"\" when none."),
  language: z.string().describe("The file's language as its lower-case extension (`ts`, `py`, `md`, …; \"\" when none)."),
  kind: z.enum(["code", "notes"]).describe("Source code or notes/documentation."),
  concepts: z.array(conceptSchema).describe("The meaning concepts query and chunk share, strongest first (empty in lexical mode)."),
});

export const indexingSchema = z
  .object({
    done: z.number().int().describe("Files indexed so far."),
    total: z.number().int().describe("Files found to index (0 while still scanning)."),
    latent: z
      .object({ ready: z.number().int(), total: z.number().int() })
      .describe("Files whose meaning (latent) vectors are computed, of those indexed; the others are found and ranked by their words only, for now."),
    roots: z.array(z.string()).describe("Roots still indexing."),
  })
  .nullable()
  .describe("Non-null while some root is still being indexed: the results are partial. Search again later, or call `status` with waitSeconds.");

export function hitOut(h: SearchHit): z.infer<typeof hitSchema> {
  return {
    path: h.path, root: h.root, file: h.file, startLine: h.startLine, endLine: h.endLine, score: h.score,
    snippet: h.snippet, snippetStartLine: h.snippetStartLine, snippetEndLine: h.snippetEndLine, symbol: h.symbol, language: h.language, kind: h.kind, concepts: h.concepts,
  };
}

/** A hit as the text mirror shows it: location, score, symbol, numbered snippet lines, concepts. */
export function hitText(h: SearchHit, n: number, absolute: boolean): string {
  const where = `${absolute ? h.file : h.path}:${h.startLine}-${h.endLine}`;
  const concepts = [...new Set(h.concepts.slice(0, 3).map((c) => c.label.trim()).filter((l) => l !== ""))];
  return `${n}. ${where}  score ${h.score}${h.symbol ? `  ${h.symbol}` : ""}  [${h.language}, ${h.kind}]\n` +
    numberedSnippet(h, "   ") + (concepts.length ? `   concepts: ${concepts.join(" · ")}\n` : "");
}
