// The daemon's wire protocol, declared once: request names, parameters and results, shared by
// the daemon (server/), the CLI, the MCP server and the VS Code extension. Transport is
// LSP-style JSON-RPC (Content-Length framing, vscode-jsonrpc); besides `initialize`,
// `shutdown` and `exit` the daemon answers only the `loupe/*` requests below and sends
// `$/progress` (LSP work-done progress) on a request's `workDoneToken` while it indexes.
// Everything here is plain JSON data; paths in results are in editor terms (absolute `file`
// plus root-relative `path`, 1-based inclusive lines).
import { RequestType, RequestType0, type ProgressToken } from "vscode-languageserver-protocol";

/** Bumped whenever a request or result changes incompatibly; `initialize` reports it. */
export const PROTOCOL_VERSION = 1;

/**
 * Bounds on every input the daemon and its adapters accept (CLI, socket, MCP stdio and HTTP).
 * Anything over a bound is refused with BAD_ARGUMENT and a message naming the bound, never
 * truncated silently, so a client can never make the daemon encode, buffer or echo more than
 * these sizes allow.
 */
export const LIMITS = {
  /** Characters in a `search` or `explain` query. About 8 encoder windows: a question, an identifier or a pasted paragraph; for a longer passage use `similar` on a file range. */
  queryChars: 4_096,
  /** Hits per page. */
  k: 100,
  /** How deep paging goes: `offset + k` never passes it. */
  depth: 1_000,
  /** Entries in one filter list (`paths`, `exclude`, `kinds`, `languages`, `roots`). */
  filterEntries: 64,
  /** Characters in one filter entry (a glob, a language, a root path) and in a `path` argument. */
  pathChars: 4_096,
  /** Lines one `read` returns (from `startLine`). */
  readLines: 2_000,
  /** Lines `read` returns when no `endLine` is given. */
  readDefaultLines: 200,
  /** Characters of the passage `similar` encodes: a longer line range is cut to its first this many characters. */
  passageChars: 8_000,
  /** Bytes in one JSON-RPC message on the daemon's socket; a longer message closes that connection. */
  messageBytes: 4 << 20,
} as const;

export const SEARCH_MODES = ["hybrid", "lexical", "latent"] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];
/** A file's kind, for filtering: source code or notes (markdown, plain text and the rest). */
export type FileKind = "code" | "notes";

/** Filters every query request accepts; all optional, combined with AND. */
export interface SearchFilters {
  /** Only these workspace roots (absolute paths as added). */
  roots?: string[];
  /** Only paths (root-relative, `/`-separated) matching one of these globs (picomatch: `src/**\/*.ts`). */
  paths?: string[];
  /** Drop paths matching any of these globs. */
  exclude?: string[];
  /** Only code or only notes. */
  kinds?: FileKind[];
  /** Only these languages, as chunk `language` names them: the file's lower-case extension (`ts`, `py`, `md`, …). */
  languages?: string[];
}

export interface SearchParams extends SearchFilters {
  query: string;
  /** Hits per page; default 10, at most 100. */
  k?: number;
  /** Hits to skip (the `nextOffset` of the previous page). */
  offset?: number;
  /** Default hybrid. */
  mode?: SearchMode;
}

/** A latent concept shared by query and chunk. */
export interface Concept {
  id: number;
  /** Human-readable label derived from the texts that activate it most; "" if the pack has none. */
  label: string;
  /** Query weight × chunk weight: this latent's share of the latent score. */
  weight: number;
}

export interface SearchHit {
  /** The workspace root holding the file. */
  root: string;
  /** Root-relative path with `/` separators. */
  path: string;
  /** Absolute path of the file. */
  file: string;
  startLine: number;
  endLine: number;
  score: number;
  /** Up to 6 lines of the chunk that best match the query's words (its first lines when none match), common indentation removed, "\n"-separated. */
  snippet: string;
  /** 1-based lines of the file the snippet shows. */
  snippetStartLine: number;
  snippetEndLine: number;
  /** Enclosing symbol (`Server.handle`) or heading path (`Guide > Install`); "" when none. */
  symbol: string;
  language: string;
  kind: FileKind;
  /** The latents that contributed most to the latent score, best first (empty in lexical mode). */
  concepts: Concept[];
}

/** Snippet lines with their file line numbers, right-aligned, each indented by `indent` (the CLI's and the MCP text mirror's form). */
export function numberedSnippet(h: Pick<SearchHit, "snippet" | "snippetStartLine" | "snippetEndLine">, indent: string): string {
  if (h.snippet === "") return "";
  const width = String(h.snippetEndLine).length;
  return h.snippet.split("\n").map((l, i) => `${indent}${String(h.snippetStartLine + i).padStart(width)}│ ${l}`.trimEnd()).join("\n") + "\n";
}

/** Where indexing stands, attached to results while a root is still being indexed. */
export interface IndexingProgress {
  /** Files reconciled (searchable by their words) so far, of `total` found. */
  done: number;
  total: number;
  /** Files with their latent vectors, of the files indexed (the rest rank by their words alone). */
  latent: { ready: number; total: number };
  /** Roots still indexing. */
  roots: string[];
}

/** "index still building: 42% of 10,311 files; partial results below." */
/** The note the CLI and MCP put before partial results: one wording for both. */
export function indexingNote(p: IndexingProgress | null): string | null {
  if (!p) return null;
  const vectors = p.latent.ready < p.latent.total
    ? `meaning vectors for ${Math.floor((100 * p.latent.ready) / Math.max(p.latent.total, 1))}% of ${p.latent.total.toLocaleString("en")} files (the rest match by their words only)`
    : null;
  if (p.total === 0) return `index still building: ${vectors ?? "scanning the workspace for files"}; partial results below.`;
  const pct = Math.floor((100 * p.done) / p.total);
  return `index still building: ${pct}% of ${p.total.toLocaleString("en")} files${vectors ? `, ${vectors}` : ""}; partial results below.`;
}

export interface SearchResult {
  query: string;
  mode: SearchMode;
  hits: SearchHit[];
  /** Offset of the next page, or null when there are no more hits (within the first 1,000). */
  nextOffset: number | null;
  /** Non-null when some root is still indexing: results are partial. */
  indexing: IndexingProgress | null;
}

export interface ReadParams {
  /** Absolute, or relative to `root` (default: the only root, or the root that holds it). */
  path: string;
  root?: string;
  /** 1-based inclusive; default the whole file up to 200 lines from `startLine`. */
  startLine?: number;
  endLine?: number;
}

export interface ReadResult {
  root: string;
  path: string;
  file: string;
  startLine: number;
  endLine: number;
  totalLines: number;
  text: string;
}

export interface SimilarParams extends SearchFilters {
  /** The passage to start from: a file (absolute or root-relative) and a line range (default: the whole file, capped at the first chunk). */
  path: string;
  root?: string;
  startLine?: number;
  endLine?: number;
  k?: number;
}

export interface ExplainParams {
  query: string;
  /** The hit to explain: its file and a line inside it. */
  path: string;
  root?: string;
  line: number;
}

export interface ExplainResult {
  query: string;
  hit: SearchHit;
  /** Latents active in both query and chunk, by contribution. */
  latents: Array<Concept & { queryWeight: number; chunkWeight: number }>;
  /** Query terms found in the chunk, with their BM25 contribution. */
  lexical: Array<{ term: string; tf: number; contribution: number }>;
  /** The channel scores before fusion (raw BM25 and latent dot product); `hit.score` is the fused score on search's scale. */
  lexicalScore: number;
  latentScore: number;
}

/** scanning: comparing files with the index; indexing: encoding changes; watching: up to date and watched; idle: up to date, not watched; error: see lastError. */
export type RootState = "scanning" | "indexing" | "watching" | "idle" | "error";

export interface RootStatus {
  root: string;
  state: RootState;
  /** Files indexed (in the committed index) and chunks. */
  files: number;
  chunks: number;
  /**
   * Files whose latent (meaning) vectors are in the index, of `total`. A file is searchable by its
   * words as soon as it is indexed; its vectors follow in the background, and until then its
   * chunks are ranked by their words alone.
   */
  latent: { ready: number; total: number };
  /** Paths skipped by ignore rules or content checks at the last scan. */
  skipped: number;
  /** Changes seen but not yet searchable. */
  pending: number;
  /** During the initial scan or a reindex: files done of total. */
  progress: { done: number; total: number } | null;
  /** Bytes of the on-disk index. */
  indexBytes: number;
  indexDir: string;
  lastError: string | null;
  /**
   * saved: added with `loupe index` (or `addRoot` without `session`), remembered in roots.json
   * across restarts until `remove-root`; session: added by a client session (an MCP server's
   * `--root`), served while a connection that added it is open, then closed (its index stays in
   * the cache, so the next session starts where this one ended).
   */
  lifetime: "saved" | "session";
}

export interface StatusResult {
  pid: number;
  version: string;
  protocol: number;
  socket: string | null;
  startedAt: string;
  clients: number;
  pack: { name: string; fingerprint: string; provider: string } | null;
  roots: RootStatus[];
  lastError: string | null;
}

export interface AddRootParams {
  root: string;
  /** A session root: served while this connection is open, not remembered (see RootStatus.lifetime). Default false. */
  session?: boolean;
  /** Resolve only when the root's first indexing is done (with `$/progress` on `workDoneToken`). */
  wait?: boolean;
  workDoneToken?: ProgressToken;
}

export interface RootParams {
  root: string;
}

export interface ReindexParams {
  /** Default: every root. */
  root?: string;
  wait?: boolean;
  workDoneToken?: ProgressToken;
}

/**
 * Every request the daemon answers. While a waited-for `addRoot` or `reindex` runs, `$/progress`
 * reports on its `workDoneToken` carry `message` "1,204 / 10,311 files" and `percentage`.
 */
export const Requests = {
  search: new RequestType<SearchParams, SearchResult, ErrorData>("loupe/search"),
  read: new RequestType<ReadParams, ReadResult, ErrorData>("loupe/read"),
  similar: new RequestType<SimilarParams, SearchResult, ErrorData>("loupe/similar"),
  explain: new RequestType<ExplainParams, ExplainResult, ErrorData>("loupe/explain"),
  status: new RequestType0<StatusResult, ErrorData>("loupe/status"),
  addRoot: new RequestType<AddRootParams, RootStatus, ErrorData>("loupe/addRoot"),
  removeRoot: new RequestType<RootParams, StatusResult, ErrorData>("loupe/removeRoot"),
  reindex: new RequestType<ReindexParams, StatusResult, ErrorData>("loupe/reindex"),
  /** Stops the daemon after answering. */
  stop: new RequestType0<{ stopping: true }, ErrorData>("loupe/stop"),
} as const;

/** An error answer's `data`: the LoupeError code (`OUTSIDE_ROOTS`, `BAD_ARGUMENT`, …) or `INTERNAL`. */
export interface ErrorData {
  code: string;
}

/** JSON-RPC error codes the daemon answers with; `data.code` carries the LoupeError code. */
export const RPC_ERROR = { loupe: -32001, internal: -32603, invalidParams: -32602 } as const;
