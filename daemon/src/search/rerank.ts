// The last ranking step, over the best RERANK_DEPTH fused hits of a search: what an agent asking
// "where is X done" needs beyond relevance scores. Three documented adjustments, each measured on
// the whole agent task set (`loupe eval --tasks eval/tasks`, docs/quality.md), never tuned per
// question:
// - a prior by file role (ROLE_PRIOR): changelogs and release notes, lock files, and generated,
//   vendored or minified files mention everything and define nothing; tests, and the
//   documentation of a code repository, answer "how is it used" more often than "where is it
//   done". They still rank when nothing else matches;
// - a chunk whose symbol is named in the query (`res.format`, `from_prefixed_env`,
//   `ShouldBindBodyWith`) gets SYMBOL_BOOST more;
// - diversity: past SAME_FILE_FREE hits of one file on a page, each further one counts
//   DIVERSITY of its score (then DIVERSITY², …), so one long file does not fill the page.
import { isDocumentation } from "../file-types.js";
import type { Hit } from "./topk.js";

/** Hits re-ranked per search; pages beyond them keep the fused order. Default 100. */
export const RERANK_DEPTH = 100;

export type FileRole = "source" | "changelog" | "lock" | "generated" | "test" | "docs";

/** Score multiplier per role; 1 for everything else. */
export const ROLE_PRIOR: Readonly<Record<FileRole, number>> = { source: 1, changelog: 0.5, lock: 0.5, generated: 0.5, test: 0.7, docs: 0.5 };

/** Extra share of the score for a chunk whose symbol the query names; default 0.5. */
export const SYMBOL_BOOST = 0.5;

/** Factor per hit of the same file on the page past SAME_FILE_FREE; default 0.5 (1: no diversity). */
export const DIVERSITY = 0.5;

/** Hits of one file before DIVERSITY starts to count; default 3. */
export const SAME_FILE_FREE = 3;

const CHANGELOG = /^(change[-_ ]?log|changes|history|news|release[-_ ]?notes|releases|whats[-_ ]?new|upgrading|migrating)(\.(md|markdown|mdx|rst|txt|adoc|org))?$/i;
const CHANGELOG_DIR = /(^|\/)(changelogs?|changes|release[-_ ]notes|releases)\//i;
const LOCK = /(^|\/)(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|bun\.lockb?|cargo\.lock|gemfile\.lock|composer\.lock|poetry\.lock|pipfile\.lock|uv\.lock|go\.sum|flake\.lock|[^/]+\.lock)$/i;
const GENERATED = /(\.min\.(js|css)|\.map|\.snap|\.pb\.go|_pb2\.pyi?|\.generated\.[a-z]+|\.g\.dart|\.svg)$|(^|\/)(dist|vendor|third_party|node_modules|__snapshots__|build\/generated)\//i;

const TEST = /(^|\/)(tests?|__tests__|specs?|testdata|test_?utils?)\/|(^|\/)test_[^/]+\.py$|[._-](test|spec)s?\.[a-z]+$|_test\.go$/i;

/**
 * What a file is for, by its root-relative path. `docs`: documentation in a code repository
 * (`codeRoot`, which the caller knows); a notes vault's notes are its sources.
 */
export function fileRole(path: string, codeRoot = false): FileRole {
  const base = path.slice(path.lastIndexOf("/") + 1);
  if (CHANGELOG.test(base) || CHANGELOG_DIR.test(path)) return "changelog";
  if (LOCK.test(path)) return "lock";
  if (GENERATED.test(path)) return "generated";
  if (TEST.test(path)) return "test";
  if (codeRoot && isDocumentation(path)) return "docs";
  return "source";
}

const IDENTIFIER = /[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*/g;

/**
 * The identifiers a query names, lower-cased: words written as code (camelCase, snake_case,
 * dotted, or with a call's parentheses), and for dotted ones their last part too.
 */
export function queryIdentifiers(query: string): Set<string> {
  const out = new Set<string>();
  for (const m of query.matchAll(IDENTIFIER)) {
    const word = m[0];
    const after = query.slice(m.index + word.length, m.index + word.length + 1);
    const codeLike = /[a-z0-9][A-Z]|_|\.|::|#/.test(word) || /^[A-Z]{2,}[a-z]/.test(word) || after === "(";
    if (!codeLike || word.length < 3) continue;
    const norm = word.replace(/::|#/g, ".").toLowerCase();
    out.add(norm);
    const last = norm.slice(norm.lastIndexOf(".") + 1);
    if (last.length >= 3) out.add(last);
  }
  return out;
}

/** Whether a chunk's symbol ("A, B", "Outer.inner", "X(Trait)") names one of `ids`. */
export function symbolNamed(symbol: string, ids: ReadonlySet<string>): boolean {
  if (ids.size === 0 || symbol === "") return false;
  for (const part of symbol.toLowerCase().split(/,\s*/)) {
    const name = part.replace(/\(.*\)$/, "").replace(/::/g, ".");
    if (ids.has(name) || ids.has(name.slice(name.lastIndexOf(".") + 1))) return true;
  }
  return false;
}

export interface RerankOptions {
  /** Root-relative path of a hit's chunk. */
  pathOf: (doc: number) => string;
  /** Symbol of a hit's chunk. */
  symbolOf: (doc: number) => string;
  /** Whether a hit's root is a code repository (its documentation files are then `docs`). */
  codeRoot?: (doc: number) => boolean;
  /** The query text (for the identifiers it names). */
  query: string;
  rolePrior?: Readonly<Record<FileRole, number>>;
  symbolBoost?: number;
  diversity?: number;
  sameFileFree?: number;
}

/** `hits` (best first) re-ranked as the header says; the first RERANK_DEPTH only, the rest after them in order. */
export function rerank(hits: readonly Hit[], o: RerankOptions): Hit[] {
  const prior = o.rolePrior ?? ROLE_PRIOR;
  const boost = o.symbolBoost ?? SYMBOL_BOOST;
  const diversity = o.diversity ?? DIVERSITY;
  const ids = queryIdentifiers(o.query);
  const head = hits.slice(0, RERANK_DEPTH).map((h) => {
    const path = o.pathOf(h.doc);
    let score = h.score * prior[fileRole(path, o.codeRoot?.(h.doc) ?? false)];
    if (boost > 0 && symbolNamed(o.symbolOf(h.doc), ids)) score *= 1 + boost;
    return { doc: h.doc, score, path };
  });
  // Greedy: take the best adjusted score, counting each file's hits already taken.
  const taken = new Map<string, number>();
  const out: Hit[] = [];
  const left = head.sort((a, b) => b.score - a.score || a.doc - b.doc);
  while (left.length > 0) {
    let best = 0, bestScore = -Infinity;
    for (let i = 0; i < left.length; i++) {
      const s = left[i]!.score * diversity ** Math.max(0, (taken.get(left[i]!.path) ?? 0) - (o.sameFileFree ?? SAME_FILE_FREE) + 1);
      if (s > bestScore || (s === bestScore && left[i]!.doc < left[best]!.doc)) {
        best = i;
        bestScore = s;
      }
      // Sorted by undiscounted score: nothing further can beat the best discounted score so far.
      if (i + 1 < left.length && left[i + 1]!.score < bestScore) break;
    }
    const h = left.splice(best, 1)[0]!;
    taken.set(h.path, (taken.get(h.path) ?? 0) + 1);
    out.push({ doc: h.doc, score: bestScore });
  }
  return [...out, ...hits.slice(RERANK_DEPTH)];
}
