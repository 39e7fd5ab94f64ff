// The on-disk layout of extracted token states (written by states.ts): per layer, float32
// shards of SHARD_TOKENS × hidden values; token-ids.i32 (one id per state) and where.i32
// (passage number, token position within the passage) in the same order; meta.json.
export const SHARD_TOKENS = 65536;

export interface StatesMeta {
  tokens: number;
  hidden: number;
  layers: number[];
  shards: number;
  packFingerprint: string;
  corpusSha256: string;
}
