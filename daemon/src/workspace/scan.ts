// The one-shot folder scan behind `loupe search --root`: the workspace walk (`ignore.ts`, the same
// rules the daemon and `loupe ls-files` use) with each file's text kept; each skip has a reason.
import { DEFAULT_MAX_FILE_BYTES, walkWorkspace, type SkippedPath } from "./ignore.js";

/** Files above this many bytes are skipped; default 1 MiB. */
export const MAX_FILE_BYTES = DEFAULT_MAX_FILE_BYTES;

export interface ScannedFile {
  /** Relative to the root, with forward slashes. */
  path: string;
  text: string;
}

export type Skipped = SkippedPath;

export async function scanFolder(root: string): Promise<{ files: ScannedFile[]; skipped: Skipped[] }> {
  const { files, skipped } = await walkWorkspace(root, { keepText: true });
  return { files: files.map((f) => ({ path: f.path, text: f.text! })), skipped };
}
