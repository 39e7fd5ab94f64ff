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

export function isLoupeError(e: unknown): e is LoupeError {
  return e instanceof LoupeError;
}
