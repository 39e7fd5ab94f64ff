// The on-disk layout of extracted token states (written by states.ts and pair-states.ts): per
// layer, float32 shards of SHARD_TOKENS × hidden values; token-ids.i32 (one id per state) and
// where.i32 (passage number, token position within the passage) in the same order; meta.json.
import { createWriteStream, type WriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export const SHARD_TOKENS = 65536;

export interface StatesMeta {
  tokens: number;
  hidden: number;
  layers: number[];
  shards: number;
  packFingerprint: string;
  corpusSha256: string;
}

/** Appends windows' token states to the shards and their token ids and origins to the side files. */
export class StatesWriter {
  private shard: Float32Array[];
  private inShard = 0;
  private readonly idsOut: WriteStream;
  private readonly whereOut: WriteStream;
  /** States written so far (the index of the next one). */
  tokens = 0;
  shards = 0;

  constructor(
    private readonly dir: string,
    private readonly layers: readonly number[],
    private readonly hidden: number,
  ) {
    this.shard = layers.map(() => new Float32Array(SHARD_TOKENS * hidden));
    this.idsOut = createWriteStream(join(dir, "token-ids.i32"));
    this.whereOut = createWriteStream(join(dir, "where.i32"));
  }

  /**
   * One window: `states[i]` holds layer `layers[i]`'s states (`ids.length × hidden`, row-major),
   * `ids` its token ids; its tokens are positions `offset`, `offset + 1`, … of passage `passage`.
   */
  async addWindow(states: readonly Float32Array[], ids: readonly number[], passage: number, offset: number): Promise<void> {
    const h = this.hidden;
    const where = new Int32Array(ids.length * 2);
    for (let t = 0; t < ids.length; t++) {
      this.layers.forEach((_, i) => this.shard[i]!.set(states[i]!.subarray(t * h, (t + 1) * h), this.inShard * h));
      where[2 * t] = passage;
      where[2 * t + 1] = offset + t;
      this.inShard++;
      this.tokens++;
      if (this.inShard === SHARD_TOKENS) await this.flush();
    }
    this.idsOut.write(Buffer.from(Int32Array.from(ids).buffer));
    this.whereOut.write(Buffer.from(where.buffer));
  }

  private async flush(): Promise<void> {
    if (this.inShard === 0) return;
    const name = (l: number) => join(this.dir, `layer${l}-${String(this.shards).padStart(4, "0")}.f32`);
    await Promise.all(this.layers.map((l, i) => writeFile(name(l), this.shard[i]!.subarray(0, this.inShard * this.hidden))));
    this.shards++;
    this.inShard = 0;
    this.shard = this.layers.map(() => new Float32Array(SHARD_TOKENS * this.hidden));
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.all([new Promise((r) => this.idsOut.end(r)), new Promise((r) => this.whereOut.end(r))]);
  }
}
