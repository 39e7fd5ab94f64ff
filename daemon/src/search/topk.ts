// Exact top-k selection over a dense score array with a bounded min-heap: O(n log k).
// Ties break by the lower document number, so results are deterministic.

export interface Hit {
  doc: number;
  score: number;
}

/** The `k` best documents by score, best first; documents whose score is `skip` are ignored. */
export function topK(scores: Float32Array | Float64Array, k: number, skip: number | null = null): Hit[] {
  if (k <= 0) return [];
  const heapDocs = new Int32Array(k);
  const heapScores = new Float64Array(k);
  let size = 0;
  // "worse" in heap order: lower score, or equal score and higher doc number.
  const worse = (i: number, j: number) =>
    heapScores[i]! < heapScores[j]! || (heapScores[i] === heapScores[j] && heapDocs[i]! > heapDocs[j]!);
  const swap = (i: number, j: number) => {
    const d = heapDocs[i]!, s = heapScores[i]!;
    heapDocs[i] = heapDocs[j]!; heapScores[i] = heapScores[j]!;
    heapDocs[j] = d; heapScores[j] = s;
  };
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < size && worse(l, m)) m = l;
      if (r < size && worse(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (let doc = 0; doc < scores.length; doc++) {
    const s = scores[doc]!;
    if (s === skip || Number.isNaN(s)) continue;
    if (size < k) {
      heapDocs[size] = doc; heapScores[size] = s;
      for (let i = size++; i > 0; ) {
        const p = (i - 1) >> 1;
        if (!worse(i, p)) break;
        swap(i, p);
        i = p;
      }
    } else if (s > heapScores[0]!) {
      heapDocs[0] = doc; heapScores[0] = s;
      siftDown(0);
    }
  }
  const out: Hit[] = [];
  for (let i = 0; i < size; i++) out.push({ doc: heapDocs[i]!, score: heapScores[i]! });
  return out.sort((a, b) => b.score - a.score || a.doc - b.doc);
}
