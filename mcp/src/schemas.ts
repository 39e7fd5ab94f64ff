// What the MCP tools share beyond the protocol's schemas: their annotations and the text mirror
// of a hit. Field schemas (query, path, root, filters, hits) come from @loupe/protocol, so every
// bound and description is the daemon's own.
import { numberedSnippet, type SearchFilters, type SearchHit } from "@loupe/protocol";

/** Annotations of every Loupe tool: they read the index and the workspace, and change neither. */
export const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/** A hit as the text mirror shows it: location, score, symbol, numbered snippet lines, concepts. */
export function hitText(h: SearchHit, n: number, absolute: boolean): string {
  const where = `${absolute ? h.file : h.path}:${h.startLine}-${h.endLine}`;
  const concepts = [...new Set(h.concepts.slice(0, 3).map((c) => c.label.trim()).filter((l) => l !== ""))];
  return `${n}. ${where}  score ${h.score}${h.symbol ? `  ${h.symbol}` : ""}  [${h.language}, ${h.kind}]\n` +
    numberedSnippet(h, "   ") + (concepts.length ? `   concepts: ${concepts.join(" · ")}\n` : "");
}

/** The path, kind and language filters a tool was given, as request fields (the ones not given left out). */
export function fileFilters(a: Pick<SearchFilters, "paths" | "exclude" | "kinds" | "languages">): Pick<SearchFilters, "paths" | "exclude" | "kinds" | "languages"> {
  return {
    ...(a.paths ? { paths: a.paths } : {}),
    ...(a.exclude ? { exclude: a.exclude } : {}),
    ...(a.kinds ? { kinds: a.kinds } : {}),
    ...(a.languages ? { languages: a.languages } : {}),
  };
}
