// Bounds on every input the daemon and its adapters accept, defined once: the request schemas
// (schemas.ts), the MCP tools and the CLI all read them from here.

/**
 * Anything over a bound is refused with BAD_ARGUMENT and a message naming the bound, never
 * truncated silently, so a client can never make the daemon encode, buffer or echo more than
 * these sizes allow.
 */
export const LIMITS = {
  /** Characters in a `search` or `explain` query. About 8 encoder windows: a question, an identifier or a pasted paragraph; for a longer passage use `similar` on a file range. */
  queryChars: 4_096,
  /** Hits per page. */
  k: 100,
  /** Hits per page when none is asked for. */
  defaultK: 10,
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
/** Where a search looks: the daemon's own indexes, or the shared OpenSearch index it was started with. */
export const SEARCH_SCOPES = ["local", "cluster"] as const;

/** A file's kind: source code, or notes (markdown, plain text and every other non-code file). */
export const FILE_KINDS = ["code", "notes"] as const;
