// Every request's parameters and every result, as zod schemas; the TypeScript types are inferred
// from them, so a field is declared once. The daemon checks each request against its schema at
// its edge (`parseParams`), the MCP tools build their input schemas from these fields, and tests
// check answers against the result schemas. Each description is written for whoever reads it
// last: a developer in an editor, or a model choosing its next tool call.
import { z } from "zod";
import { ErrorCode, LoupeError } from "./errors.js";
import { FILE_KINDS, LIMITS, SEARCH_MODES, SEARCH_SCOPES } from "./limits.js";
import type { Requests } from "./protocol.js";

const n = (x: number) => x.toLocaleString("en");

/** A short description of a bad value, never the whole of it (a client may send megabytes). */
export function shown(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

const lengthOf = (v: unknown) => n((v as { length?: number })?.length ?? 0);

/** An integer in [min, max], with one message for every way a value can miss. */
export function intArg(name: string, min: number, max: number) {
  const error = (iss: { input?: unknown }) => `${name} must be an integer from ${n(min)} to ${n(max)}, got ${shown(iss.input)}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A string of at most `max` characters; `hint` says what to do instead. */
function textArg(name: string, max: number, hint = "") {
  return z
    .string({ error: (iss) => `${name} must be a string, got ${shown(iss.input)}` })
    .max(max, { error: (iss) => `${name} is ${lengthOf(iss.input)} characters; the limit is ${n(max)}${hint}` });
}

export const queryArg = textArg(
  "query",
  LIMITS.queryChars,
  ". Shorten it to the question or the names that matter; to find passages like a long one, use similar on its file and lines",
)
  .refine((q) => q.trim() !== "", { error: "query must be a non-empty string" })
  .describe('What to find, in words or identifiers: a question ("where do failed HTTP calls get retried"), a concept, or a name (`parseConfig`). Matches meaning across phrasings and languages, and exact words.');

export const rootArg = textArg("root", LIMITS.pathChars, "; name a root as `status` lists it")
  .describe("Which workspace root `path` is relative to, as `status` or a hit's `root` names it. Needed only when there are several roots and the path is relative and ambiguous.");

export const pathArg = textArg("path", LIMITS.pathChars, "; pass a file's path as search hits give it")
  .min(1, { error: "path must be a non-empty string" })
  .describe("A file inside a workspace root: root-relative with `/` separators as search hits give it (`src/retry.py`), or absolute. Paths outside the roots are refused.");

/** A filter list of at most LIMITS.filterEntries entries. */
function filterList<T extends z.ZodType>(name: string, entry: T) {
  return z
    .array(entry, { error: (iss) => `${name} must be a list of strings, got ${shown(iss.input)}` })
    .max(LIMITS.filterEntries, {
      error: (iss) => `${name} has ${lengthOf(iss.input)} entries; the limit is ${LIMITS.filterEntries}; combine globs with braces (\`src/{a,b}/**\`) or filter less`,
    });
}

function filterEntry(name: string) {
  return z
    .string({ error: (iss) => `${name} must be a list of strings, got an entry ${shown(iss.input)}` })
    .min(1, { error: `an entry of ${name} is empty` })
    .max(LIMITS.pathChars, { error: (iss) => `an entry of ${name} is ${lengthOf(iss.input)} characters; the limit is ${n(LIMITS.pathChars)}` });
}

export const modeArg = z
  .enum(SEARCH_MODES, { error: (iss) => `mode must be one of ${SEARCH_MODES.join(", ")}, got ${shown(iss.input)}` })
  .describe("hybrid (default, best for most queries): meaning and exact words together; latent: meaning only (paraphrases, other natural languages); lexical: exact words and identifiers only.");

export const FileKind = z.enum(FILE_KINDS, { error: (iss) => `kinds must list "code" and/or "notes", got ${shown(iss.input)}` });
export type FileKind = z.infer<typeof FileKind>;
export type SearchMode = (typeof SEARCH_MODES)[number];

/** Filters every query request accepts; all optional, combined with AND. */
export const filterShape = {
  paths: filterList("paths", filterEntry("paths"))
    .optional()
    .describe('Only files whose root-relative path matches one of these globs (picomatch), e.g. ["src/**/*.ts", "docs/**"].'),
  exclude: filterList("exclude", filterEntry("exclude"))
    .optional()
    .describe('Leave out files whose root-relative path matches any of these globs, e.g. ["**/*.test.ts", "vendor/**"].'),
  kinds: filterList("kinds", FileKind)
    .optional()
    .describe('Only source code ("code") or only notes and documentation ("notes": markdown, plain text); default both.'),
  languages: filterList("languages", filterEntry("languages"))
    .optional()
    .describe('Only these languages, named by file extension as hits give them in `language` (e.g. "ts", "py", "go", "md").'),
  roots: filterList("roots", filterEntry("roots"))
    .optional()
    .describe("Only these workspace roots (absolute, as `status` lists them); default all."),
};
export const SearchFilters = z.strictObject(filterShape);
export type SearchFilters = z.infer<typeof SearchFilters>;

const kArg = intArg("k", 1, LIMITS.k).describe(`Hits per page; default ${LIMITS.defaultK}, at most ${LIMITS.k}.`);
const lineArg = (name: string, what: string) => intArg(name, 1, Number.MAX_SAFE_INTEGER).describe(what);
const flag = (name: string) => z.boolean({ error: (iss) => `${name} must be true or false, got ${shown(iss.input)}` });
const progressToken = z.union([z.string(), z.number().int()], { error: (iss) => `workDoneToken must be a string or an integer, got ${shown(iss.input)}` }).describe("An LSP work-done progress token: `$/progress` reports on it while the request waits.");

export const scopeArg = z
  .enum(SEARCH_SCOPES, { error: (iss) => `scope must be one of ${SEARCH_SCOPES.join(", ")}, got ${shown(iss.input)}` })
  .describe('"local" (default): the workspace roots this daemon indexes. "cluster": the team\'s shared OpenSearch index the daemon was started with (docs/scale-out.md); `roots` then names roots as they were pushed (a folder\'s name), and hits of roots this machine does not hold cannot be `read`.');

export const SearchParams = z.strictObject({
  query: queryArg,
  k: kArg.optional(),
  offset: intArg("offset", 0, LIMITS.depth - 1).optional().describe("Hits to skip: the `nextOffset` of the previous page."),
  mode: modeArg.optional(),
  scope: scopeArg.optional(),
  ...filterShape,
});
export type SearchParams = z.infer<typeof SearchParams>;

export const ReadParams = z.strictObject({
  path: pathArg,
  root: rootArg.optional(),
  startLine: lineArg("startLine", "First line to return, 1-based; default 1.").optional(),
  endLine: lineArg("endLine", `Last line to return, inclusive; default ${LIMITS.readDefaultLines} lines from startLine, at most ${n(LIMITS.readLines)}.`).optional(),
});
export type ReadParams = z.infer<typeof ReadParams>;

export const SimilarParams = z.strictObject({
  path: pathArg.describe("The passage to start from: a file inside a workspace root (root-relative or absolute)."),
  root: rootArg.optional(),
  startLine: lineArg("startLine", "First line of the passage; default the file's first chunk.").optional(),
  endLine: lineArg("endLine", "Last line of the passage, inclusive.").optional(),
  k: kArg.optional(),
  ...filterShape,
});
export type SimilarParams = z.infer<typeof SimilarParams>;

export const ExplainParams = z.strictObject({
  query: queryArg,
  path: pathArg.describe("The hit to explain: its file, as the hit gives it."),
  root: rootArg.optional(),
  line: lineArg("line", "A line inside the hit (its startLine will do)."),
});
export type ExplainParams = z.infer<typeof ExplainParams>;

export const AddRootParams = z.strictObject({
  root: textArg("root", LIMITS.pathChars).describe("The folder to index and watch."),
  session: flag("session").optional().describe("A session root: served while this connection is open, not remembered (see RootStatus.lifetime). Default false."),
  wait: flag("wait").optional().describe("Answer only when the root's first indexing is done (with `$/progress` on `workDoneToken`)."),
  workDoneToken: progressToken.optional(),
});
export type AddRootParams = z.infer<typeof AddRootParams>;

export const RootParams = z.strictObject({ root: textArg("root", LIMITS.pathChars).describe("A workspace root as `status` lists it.") });
export type RootParams = z.infer<typeof RootParams>;

export const ReindexParams = z.strictObject({
  root: textArg("root", LIMITS.pathChars).optional().describe("Default: every root."),
  wait: flag("wait").optional().describe("Answer only when reindexing is done (with `$/progress` on `workDoneToken`)."),
  workDoneToken: progressToken.optional(),
});
export type ReindexParams = z.infer<typeof ReindexParams>;

// Results.

export const Concept = z.object({
  id: z.number().int().describe("The latent's number in the model pack."),
  label: z.string().describe('A readable label for the concept, from the texts that activate it most ("" when the pack has none).'),
  weight: z.number().describe("Its share of the meaning score: query weight × chunk weight."),
});
export type Concept = z.infer<typeof Concept>;

export const SearchHit = z.object({
  root: z.string().describe("The workspace root holding the file (absolute)."),
  path: z.string().describe("File path relative to its root, `/`-separated; pass it to `read`."),
  file: z.string().describe("Absolute path of the file."),
  startLine: z.number().int().describe("First line of the matching chunk, 1-based."),
  endLine: z.number().int().describe("Last line of the chunk, 1-based, inclusive."),
  score: z.number().describe("Relevance on one scale for search, similar and explain: about 1 for the best match of a query (each channel relative to its best chunk), lower for weaker ones; lowered for changelogs, lock and generated files and for a file's further hits on a page, raised when the chunk's symbol is named in the query."),
  snippet: z.string().describe("Up to 6 lines of the chunk that best match the query's words (its first lines when none match), common indentation removed, \"\\n\"-separated."),
  snippetStartLine: z.number().int().describe("File line of the snippet's first line, 1-based."),
  snippetEndLine: z.number().int().describe("File line of the snippet's last line, 1-based."),
  symbol: z.string().describe("Enclosing declaration (`Server.handle`) or heading path (`Guide > Install`); \"\" when none."),
  language: z.string().describe("The file's language as its lower-case extension (`ts`, `py`, `md`, …; \"\" when none)."),
  kind: FileKind.describe("Source code or notes."),
  concepts: z.array(Concept).describe("The meaning concepts query and chunk share, strongest first (empty in lexical mode)."),
});
export type SearchHit = z.infer<typeof SearchHit>;

export const IndexingProgress = z.object({
  done: z.number().int().describe("Files indexed (searchable by their words) so far."),
  total: z.number().int().describe("Files found to index (0 while still scanning)."),
  latent: z
    .object({ ready: z.number().int(), total: z.number().int() })
    .describe("Files whose meaning (latent) vectors are computed, of those indexed; the others are found and ranked by their words only, for now."),
  roots: z.array(z.string()).describe("Roots still indexing."),
});
export type IndexingProgress = z.infer<typeof IndexingProgress>;

export const indexingField = IndexingProgress.nullable().describe(
  "Non-null while some root is still being indexed: the results are partial. Search again later, or wait on `status`.",
);

export const SearchResult = z.object({
  query: z.string().describe("The query as searched."),
  mode: z.enum(SEARCH_MODES).describe("The retrieval mode used."),
  hits: z.array(SearchHit).describe("Best first."),
  nextOffset: z.number().int().nullable().describe(`Offset of the next page, or null when there are no more hits (within the first ${n(LIMITS.depth)}).`),
  indexing: indexingField,
});
export type SearchResult = z.infer<typeof SearchResult>;

export const ReadResult = z.object({
  root: z.string().describe("The workspace root holding the file."),
  path: z.string().describe("Root-relative path."),
  file: z.string().describe("Absolute path."),
  startLine: z.number().int().describe("First line returned, 1-based."),
  endLine: z.number().int().describe("Last line returned, inclusive."),
  totalLines: z.number().int().describe("Lines in the whole file."),
  text: z.string().describe("The lines startLine..endLine, joined with \\n, without line numbers."),
});
export type ReadResult = z.infer<typeof ReadResult>;

export const SharedLatent = Concept.extend({
  queryWeight: z.number().describe("The latent's weight in the query."),
  chunkWeight: z.number().describe("The latent's weight in the chunk."),
});

export const LexicalMatch = z.object({
  term: z.string().describe("A query word as the analyzer indexes it (lower-case, stemmed; identifiers also split into parts)."),
  tf: z.number().int().describe("How often it occurs in the chunk."),
  contribution: z.number().describe("Its share of the BM25 score."),
});

export const ExplainResult = z.object({
  query: z.string(),
  hit: SearchHit,
  latents: z.array(SharedLatent).describe("Latents active in both query and chunk, by contribution."),
  lexical: z.array(LexicalMatch).describe("Query terms found in the chunk, with their BM25 contribution."),
  lexicalScore: z.number().describe("Raw BM25 score of the chunk, before fusion."),
  latentScore: z.number().describe("Raw latent dot product, before fusion; `hit.score` is the fused score on search's scale."),
});
export type ExplainResult = z.infer<typeof ExplainResult>;

export const ROOT_STATES = ["scanning", "indexing", "watching", "idle", "error"] as const;
/** scanning: comparing files with the index; indexing: encoding changes; watching: up to date and watched; idle: up to date, not watched; error: see lastError. */
export type RootState = (typeof ROOT_STATES)[number];

export const RootStatus = z.object({
  root: z.string(),
  state: z.enum(ROOT_STATES).describe("scanning: comparing files with the index; indexing: encoding changes; watching: up to date and watched; idle: up to date, not watched; error: see lastError."),
  files: z.number().int().describe("Files in the committed index."),
  chunks: z.number().int().describe("Chunks in the committed index."),
  latent: z
    .object({ ready: z.number().int(), total: z.number().int() })
    .describe("Files whose latent (meaning) vectors are in the index, of `total`. A file is searchable by its words as soon as it is indexed; its vectors follow in the background, and until then its chunks are ranked by their words alone."),
  skipped: z.number().int().describe("Paths skipped by ignore rules or content checks at the last scan."),
  pending: z.number().int().describe("Changes seen but not yet searchable."),
  progress: z.object({ done: z.number().int(), total: z.number().int() }).nullable().describe("During the initial scan or a reindex: files done of total."),
  indexBytes: z.number().int().describe("Bytes of the on-disk index."),
  indexDir: z.string(),
  lastError: z.string().nullable(),
  lifetime: z
    .enum(["saved", "session"])
    .describe("saved: added with `loupe index` (or addRoot without `session`), remembered across restarts until removed; session: added by a client session (an MCP server's --root), served while a connection that added it is open (its index stays in the cache, so the next session starts where this one ended)."),
});
export type RootStatus = z.infer<typeof RootStatus>;

export const StatusResult = z.object({
  pid: z.number().int(),
  version: z.string(),
  protocol: z.number().int(),
  socket: z.string().nullable(),
  startedAt: z.string(),
  clients: z.number().int(),
  pack: z
    .object({
      name: z.string(),
      fingerprint: z.string(),
      provider: z.string(),
      scripts: z.array(z.string()).describe("The scripts the pack's encoder reads (Latin for the default English pack): a query in another script is matched by its words, the meaning channel trusted only for its readable share. Empty when the encoder does not say: the channel is always trusted."),
    })
    .nullable()
    .describe("The model pack the daemon encodes with, its execution provider, and the scripts it reads."),
  cluster: z
    .object({
      url: z.string().describe("The cluster's address, credentials left out."),
      index: z.string(),
      push: z
        .object({ last: z.string().nullable().describe("The last push of a root: which, when, what changed."), error: z.string().nullable().describe("Why the last push failed, if it did.") })
        .nullable()
        .describe("Present when the daemon feeds its roots into the index (--opensearch-push)."),
    })
    .nullable()
    .describe('The shared OpenSearch index searches with scope "cluster" go to; null when the daemon was started without one.'),
  bridged: z
    .array(z.string())
    .describe("Languages (ISO 639-1 codes) bridged to English by bilingual dictionaries: a question in one of them also finds English notes (and notes in the others, through English), and an English question finds notes in them."),
  roots: z.array(RootStatus),
  lastError: z.string().nullable(),
});
export type StatusResult = z.infer<typeof StatusResult>;

/**
 * Checks a request's parameters against its schema: the typed value, or a BAD_ARGUMENT
 * LoupeError whose message names the field and the bound it misses.
 */
export function parseParams<S extends z.ZodType>(method: string, schema: S, params: unknown): z.infer<S> {
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw new LoupeError(ErrorCode.BadArgument, `${method} needs its parameters as an object, got ${shown(params)}`);
  }
  const r = schema.safeParse(params);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const message = issue.code === "unrecognized_keys"
    ? `${method} has no parameter ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`
    : issue.code === "invalid_type" && issue.path.length === 1 && (params as Record<PropertyKey, unknown>)[issue.path[0]!] === undefined
      ? `${method} needs ${String(issue.path[0])}`
      : issue.path.length > 0 && !issue.message.includes(String(issue.path[0]))
        ? `${issue.path.join(".")}: ${issue.message}`
        : issue.message;
  throw new LoupeError(ErrorCode.BadArgument, message);
}

/** The schema each request's parameters are checked against at the daemon's edge (null: it takes none). */
export const ParamSchemas = {
  search: SearchParams,
  read: ReadParams,
  similar: SimilarParams,
  explain: ExplainParams,
  status: null,
  addRoot: AddRootParams,
  removeRoot: RootParams,
  releaseRoot: RootParams,
  reindex: ReindexParams,
  stop: null,
} as const satisfies Record<keyof typeof Requests, unknown>;
