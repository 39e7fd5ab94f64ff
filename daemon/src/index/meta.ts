// The manifest ("meta"): the one file that says what the index is. A commit writes it under a
// temp name, fsyncs it, renames it over META_FILE and fsyncs the folder, so a reader sees the
// old commit or the new one and never a mixture. Every other file is immutable and named here;
// a file the manifest does not name is left over from an interrupted commit or merge and is
// deleted on open.
import { z } from "zod";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import { corrupt, PayloadReader, PayloadWriter, READABLE_FORMATS, seal, unseal } from "./format.js";

export const META_FILE = "meta.lpi";

const SegmentMetaSchema = z.object({
  /** File stem: `<id>.post`, `<id>.store`, and `<id>.<gen>.del` when it has deletes. */
  id: z.string().regex(/^[0-9a-z_]+$/),
  docs: z.number().int().nonnegative(),
  /** The generation whose deletes file holds this segment's deleted docs, and how many. */
  deletes: z.object({ gen: z.number().int().nonnegative(), count: z.number().int().nonnegative() }).nullable(),
});
export type SegmentMeta = z.infer<typeof SegmentMetaSchema>;

const MetaSchema = z.object({
  /** The format of the last writer (INDEX_FORMAT on every commit); older segments may be older. */
  format: z.number().int().refine((f) => READABLE_FORMATS.includes(f)),
  /** Incremented by every commit. */
  generation: z.number().int().nonnegative(),
  /** Fingerprint of the model pack whose latents are indexed; null for a lexical-only index. */
  pack: z.string().nullable(),
  /** ANALYZER_VERSION of the analyzer that produced the lexical terms. */
  analyzer: z.number().int(),
  segments: z.array(SegmentMetaSchema),
  /** Whatever the writer attached to this commit (e.g. the last batch it covers). */
  commitData: z.record(z.string(), z.unknown()).nullable(),
});
export type Meta = z.infer<typeof MetaSchema>;

export function postFile(id: string): string {
  return `${id}.post`;
}
export function storeFile(id: string): string {
  return `${id}.store`;
}
export function deletesFile(id: string, gen: number): string {
  return `${id}.${gen}.del`;
}

/** Every file a manifest names. */
export function filesOf(meta: Meta): Set<string> {
  const out = new Set([META_FILE]);
  for (const s of meta.segments) {
    out.add(postFile(s.id));
    out.add(storeFile(s.id));
    if (s.deletes) out.add(deletesFile(s.id, s.deletes.gen));
  }
  return out;
}

export function encodeMeta(meta: Meta): Uint8Array[] {
  return [seal("META", new PayloadWriter().json(meta).finish())];
}

export function decodeMeta(location: string, data: Buffer): Meta {
  const name = `${location}/${META_FILE}`;
  const raw = new PayloadReader(name, unseal(name, "META", data)).json<unknown>();
  const parsed = MetaSchema.safeParse(raw);
  if (!parsed.success) {
    const format = (raw as { format?: unknown })?.format;
    if (typeof format !== "number" || !READABLE_FORMATS.includes(format)) {
      throw new LoupeError(ErrorCode.IndexVersion, `index ${location} has format ${String(format)}; this Loupe reads ${READABLE_FORMATS.join(" and ")}. Run \`loupe reindex\``);
    }
    throw corrupt(name, parsed.error.issues[0]?.message ?? "invalid manifest");
  }
  return parsed.data;
}
