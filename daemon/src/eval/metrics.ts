// Retrieval metrics as the eval sets define them: nDCG@10 with graded gains and a log2
// discount, MRR@10, Recall@100; a query without relevant documents scores 0.

export function ndcgAt(ranked: readonly string[], relevant: ReadonlyMap<string, number>, k: number): number {
  let dcg = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) {
    const g = relevant.get(ranked[i]!) ?? 0;
    if (g > 0) dcg += g / Math.log2(i + 2);
  }
  const ideal = [...relevant.values()].sort((a, b) => b - a).slice(0, k);
  let idcg = 0;
  ideal.forEach((g, i) => (idcg += g / Math.log2(i + 2)));
  return idcg > 0 ? dcg / idcg : 0;
}

export function mrrAt(ranked: readonly string[], relevant: ReadonlyMap<string, number>, k: number): number {
  for (let i = 0; i < Math.min(k, ranked.length); i++) if ((relevant.get(ranked[i]!) ?? 0) > 0) return 1 / (i + 1);
  return 0;
}

export function recallAt(ranked: readonly string[], relevant: ReadonlyMap<string, number>, k: number): number {
  if (relevant.size === 0) return 0;
  let found = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) if (relevant.has(ranked[i]!)) found++;
  return found / relevant.size;
}
