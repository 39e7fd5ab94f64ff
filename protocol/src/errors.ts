// One catalogue of Loupe's error codes. Every error a user can meet carries a code and a message
// that says what to do next; adapters (CLI, LSP, MCP) map codes to their own error shapes.

export const ErrorCode = {
  PackMissingFile: "PACK_MISSING_FILE",
  PackInvalidManifest: "PACK_INVALID_MANIFEST",
  PackFingerprintMismatch: "PACK_FINGERPRINT_MISMATCH",
  PackUnsupportedVersion: "PACK_UNSUPPORTED_VERSION",
  ProviderUnavailable: "PROVIDER_UNAVAILABLE",
  EvalSetInvalid: "EVAL_SET_INVALID",
  BadArgument: "BAD_ARGUMENT",
  /** An index file fails its checksum, is truncated, missing, or not an index file. */
  IndexCorrupt: "INDEX_CORRUPT",
  /** The index was written in another format version or by another analyzer version. */
  IndexVersion: "INDEX_VERSION",
  /** The index holds latent vectors of another model pack. */
  IndexPackMismatch: "INDEX_PACK_MISMATCH",
  /** Another writer (process or open index) holds the index folder's writer lock. */
  IndexLocked: "INDEX_LOCKED",
  /** A workspace root is missing, not a folder, or unreadable. */
  WorkspaceRoot: "WORKSPACE_ROOT",
  /** A path given to read/similar/explain lies outside every workspace root (or escapes one by `..` or a symbolic link). */
  OutsideRoots: "OUTSIDE_ROOTS",
  /** A file or chunk asked for does not exist (or is not indexed). */
  NotFound: "NOT_FOUND",
  /** No workspace root is registered yet. */
  NoRoots: "NO_ROOTS",
  /** The daemon is not running and could not be started, or the connection to it broke. */
  DaemonUnavailable: "DAEMON_UNAVAILABLE",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class LoupeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "LoupeError";
  }
}

/** True for a LoupeError, also one made by another copy of this package (an extension bundles its own). */
export function isLoupeError(e: unknown): e is LoupeError {
  return e instanceof LoupeError || (e instanceof Error && e.name === "LoupeError" && typeof (e as { code?: unknown }).code === "string");
}
