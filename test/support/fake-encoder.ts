// Types for the deterministic fake encoder in fake-encoder.mjs (see there).
import type { ChunkEncoder } from "../../daemon/src/core/chunk-encoder.js";
// @ts-expect-error -- plain JavaScript shared with child processes, typed below
import { fakeEncoder as make } from "./fake-encoder.mjs";

export interface FakeEncoder extends ChunkEncoder {
  /** Texts passed to encodeDocuments, in order. */
  readonly encoded: string[];
}

export function fakeEncoder(fingerprint?: string, delayMs?: number): FakeEncoder {
  return make(fingerprint, delayMs) as FakeEncoder;
}
