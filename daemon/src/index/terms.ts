// One term space for both channels. A term is a string with a namespace prefix: `w:` for a
// lexical term (scored with BM25 from term frequency and chunk length), `z:` for an SAE latent
// (scored by the product of query and chunk weight). One engine scores both, and a query may
// mix them.
import type { SparseVector } from "../sparse-vector.js";

export const LEXICAL_PREFIX = "w:";
export const LATENT_PREFIX = "z:";

export function latentTerm(id: number): string {
  return LATENT_PREFIX + id;
}

export function lexicalTerm(term: string): string {
  return LEXICAL_PREFIX + term;
}

export interface QueryTerm {
  term: string;
  /** Multiplies the term's contribution; must be ≥ 0 (pruning relies on non-negative scores). */
  weight: number;
}

/** A latent query: one term per latent, weighted by the query's latent weight. */
export function latentQuery(v: SparseVector): QueryTerm[] {
  const out: QueryTerm[] = [];
  for (let i = 0; i < v.ids.length; i++) if (v.weights[i]! > 0) out.push({ term: latentTerm(v.ids[i]!), weight: v.weights[i]! });
  return out;
}

/** A lexical query from analyzer terms: each distinct term once, weight 1 (as the in-memory BM25 does). */
export function lexicalQuery(terms: readonly string[]): QueryTerm[] {
  return [...new Set(terms)].map((t) => ({ term: lexicalTerm(t), weight: 1 }));
}

/** A weighted lexical query (the bridge's: a question's own terms and their translations). */
export function weightedLexicalQuery(terms: ReadonlyMap<string, number>): QueryTerm[] {
  return [...terms].map(([t, weight]) => ({ term: lexicalTerm(t), weight }));
}
