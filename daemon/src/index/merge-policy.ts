// Which segments to merge. Logarithmic tiers: a segment's tier is how many times `factor` its
// live chunk count exceeds `minDocs`; when a tier holds `factor` segments they become one
// segment of the next tier. So an index of N chunks has at most about
// (factor − 1) · log_factor(N / minDocs) segments, and each chunk is rewritten about
// log_factor(N / minDocs) times over its life.

export interface MergePolicy {
  /** Segments per tier before they merge; default 8 (2–32: lower = fewer segments, more rewriting). */
  factor: number;
  /** Segments at or below this many live chunks share the lowest tier; default 2,000 (100–100,000). */
  minDocs: number;
  /** No merge produces a segment above this many chunks; default 500,000 (a segment file stays well under Node's 2 GiB read limit at ~2 KB per chunk). */
  maxDocs: number;
  /** A segment with more than this fraction deleted is rewritten on its own; default 0.3 (0.1–0.9). */
  maxDeletedRatio: number;
}

export const DEFAULT_MERGE_POLICY: MergePolicy = { factor: 8, minDocs: 2_000, maxDocs: 500_000, maxDeletedRatio: 0.3 };

export interface SegmentSize {
  docs: number;
  deleted: number;
}

/** Groups of segment positions to merge, each group into one segment. */
export function pickMerges(segments: readonly SegmentSize[], p: MergePolicy = DEFAULT_MERGE_POLICY): number[][] {
  const groups: number[][] = [];
  const used = new Set<number>();
  const tiers = new Map<number, number[]>();
  segments.forEach((s, i) => {
    const alive = s.docs - s.deleted;
    if (s.docs > 0 && s.deleted / s.docs > p.maxDeletedRatio) {
      groups.push([i]);
      used.add(i);
      return;
    }
    if (alive >= p.maxDocs) return;
    const tier = alive <= p.minDocs ? 0 : Math.floor(Math.log(alive / p.minDocs) / Math.log(p.factor)) + 1;
    tiers.set(tier, [...(tiers.get(tier) ?? []), i]);
  });
  for (const members of tiers.values()) {
    let group: number[] = [];
    let total = 0;
    for (const i of members) {
      if (used.has(i)) continue;
      const alive = segments[i]!.docs - segments[i]!.deleted;
      if (total + alive > p.maxDocs) {
        // Never past maxDocs: a group that would overflow merges as it is (a lone one waits).
        if (group.length > 1) groups.push(group);
        group = [];
        total = 0;
      }
      group.push(i);
      total += alive;
      if (group.length === p.factor) {
        groups.push(group);
        group = [];
        total = 0;
      }
    }
  }
  return groups;
}
