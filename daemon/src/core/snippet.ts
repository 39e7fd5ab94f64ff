// A hit's snippet: the few lines of its chunk that best match the query, with their line
// numbers, instead of the chunk's first lines (which are often `'use strict'`, imports or a
// licence header). Lines are scored by the query's words that they hold, each word weighted by
// its idf in the index (a rare identifier counts for more than "the"), and each word counted
// once per window, so a window holding more of the query's different words wins. Scoring is
// lexical because that is what a line can be scored by cheaply and what a reader can see; a
// chunk found by meaning alone (no query word in it) shows its first non-blank lines.
import { analyze } from "../analysis/analyzer.js";

/** Lines a snippet shows at most; default 6. */
export const SNIPPET_LINES = 6;
/** Characters a snippet line shows at most (longer lines end with "…"); default 160. */
export const SNIPPET_LINE_CHARS = 160;

export interface Snippet {
  /** The lines, "\n"-separated, common indentation removed. */
  text: string;
  /** 1-based line numbers of the first and last line shown. */
  startLine: number;
  endLine: number;
}

/**
 * The best window of at most `maxLines` lines of `text` (whose first line is `startLine`) for
 * query words `weights` (analyzer term → weight). Ties go to the earlier window; blank lines at
 * a window's edges are trimmed.
 */
export function bestSnippet(text: string, startLine: number, weights: ReadonlyMap<string, number>, maxLines = SNIPPET_LINES): Snippet {
  const lines = text.split("\n");
  const lineTerms = lines.map((l) => (weights.size === 0 || l.trim() === "" ? [] : [...new Set(analyze(l))].filter((t) => weights.has(t))));
  let best = -1, bestScore = 0;
  for (let s = 0; s < lines.length; s++) {
    if (lineTerms[s]!.length === 0) continue; // a window starts on a matching line
    const seen = new Set<string>();
    let score = 0;
    for (let i = s; i < Math.min(lines.length, s + maxLines); i++) {
      for (const t of lineTerms[i]!) {
        if (seen.has(t)) continue;
        seen.add(t);
        score += weights.get(t)!;
      }
    }
    if (score > bestScore) {
      bestScore = score;
      best = s;
    }
  }
  let from: number;
  if (best >= 0) {
    // Centre a little: one line of context above the first match when the window has room.
    from = best;
    let last = from;
    for (let i = from; i < Math.min(lines.length, from + maxLines); i++) if (lineTerms[i]!.length > 0) last = i;
    if (last - from + 1 < maxLines && from > 0 && lines[from - 1]!.trim() !== "") from--;
  } else {
    from = lines.findIndex((l) => l.trim() !== "");
    if (from < 0) return { text: "", startLine, endLine: startLine };
  }
  let to = Math.min(lines.length, from + maxLines) - 1;
  while (to > from && lines[to]!.trim() === "") to--;
  const shown = lines.slice(from, to + 1);
  const indents = shown.filter((l) => l.trim() !== "").map((l) => /^[ \t]*/.exec(l)![0].length);
  const cut = indents.length ? Math.min(...indents) : 0;
  const out = shown.map((l) => {
    const t = l.slice(cut).trimEnd();
    return t.length > SNIPPET_LINE_CHARS ? `${t.slice(0, SNIPPET_LINE_CHARS - 1)}…` : t;
  });
  return { text: out.join("\n"), startLine: startLine + from, endLine: startLine + to };
}
