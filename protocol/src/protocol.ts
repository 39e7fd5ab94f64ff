// The daemon's wire protocol, declared once: request names with their parameter and result
// types (schemas.ts), shared by the daemon, the CLI, the MCP server and the VS Code extension.
// Transport is LSP-style JSON-RPC (Content-Length framing, vscode-jsonrpc); besides
// `initialize`, `shutdown` and `exit` the daemon answers only the `loupe/*` requests below and
// sends `$/progress` (LSP work-done progress) on a request's `workDoneToken` while it indexes.
// Everything here is plain JSON data; paths in results are in editor terms (absolute `file`
// plus root-relative `path`, 1-based inclusive lines).
import { RequestType, RequestType0 } from "vscode-languageserver-protocol";
// Types only: a client that never validates (the CLI) loads no zod.
import type {
  AddRootParams, ExplainParams, ExplainResult, IndexingProgress, ReadParams, ReadResult, ReindexParams, RootParams, RootStatus, SearchHit,
  SearchParams, SearchResult, SimilarParams, StatusResult,
} from "./schemas.js";

/** Bumped whenever a request or result changes incompatibly; `initialize` reports it. */
export const PROTOCOL_VERSION = 1;

/** Snippet lines with their file line numbers, right-aligned, each indented by `indent` (the CLI's and the MCP text mirror's form). */
export function numberedSnippet(h: Pick<SearchHit, "snippet" | "snippetStartLine" | "snippetEndLine">, indent: string): string {
  if (h.snippet === "") return "";
  const width = String(h.snippetEndLine).length;
  return h.snippet.split("\n").map((l, i) => `${indent}${String(h.snippetStartLine + i).padStart(width)}│ ${l}`.trimEnd()).join("\n") + "\n";
}

/** A hit's one-line title, as editors list it: its symbol or heading, else its first non-blank snippet line (cut to `maxChars`), else its path. */
export function hitTitle(h: Pick<SearchHit, "symbol" | "snippet" | "path">, maxChars: number): string {
  if (h.symbol) return h.symbol;
  const line = h.snippet.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? h.path;
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}

/** The note the CLI and MCP put before partial results, one wording for both: "index still building: 42% of 10,311 files; partial results below." */
export function indexingNote(p: IndexingProgress | null): string | null {
  if (!p) return null;
  const vectors = p.latent.ready < p.latent.total
    ? `meaning vectors for ${Math.floor((100 * p.latent.ready) / Math.max(p.latent.total, 1))}% of ${p.latent.total.toLocaleString("en")} files (the rest match by their words only)`
    : null;
  if (p.total === 0) return `index still building: ${vectors ?? "scanning the workspace for files"}; partial results below.`;
  const pct = Math.floor((100 * p.done) / p.total);
  return `index still building: ${pct}% of ${p.total.toLocaleString("en")} files${vectors ? `, ${vectors}` : ""}; partial results below.`;
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
  /** Ends this connection's hold on a session root it added (an editor closed that folder); the root closes when no session holds it and it is not saved. */
  releaseRoot: new RequestType<RootParams, StatusResult, ErrorData>("loupe/releaseRoot"),
  reindex: new RequestType<ReindexParams, StatusResult, ErrorData>("loupe/reindex"),
  /** Stops the daemon after answering. */
  stop: new RequestType0<{ stopping: true }, ErrorData>("loupe/stop"),
} as const;

/** A request's result type: `ResultOf<"search">` is SearchResult. */
export type ResultOf<M extends keyof typeof Requests> =
  (typeof Requests)[M] extends RequestType0<infer R, ErrorData> ? R : (typeof Requests)[M] extends RequestType<unknown, infer R, ErrorData> ? R : never;


/** An error answer's `data`: the LoupeError code (`OUTSIDE_ROOTS`, `BAD_ARGUMENT`, …) or `INTERNAL`. */
export interface ErrorData {
  code: string;
}

/** JSON-RPC error codes the daemon answers with; `data.code` carries the LoupeError code. */
export const RPC_ERROR = { loupe: -32001, internal: -32603, invalidParams: -32602 } as const;
