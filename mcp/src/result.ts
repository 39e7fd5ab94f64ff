// How tools answer: structured content with a text mirror for clients that show only text, and
// failures as `isError` results whose text says what to do. Loupe's error codes lead the text
// (`OUTSIDE_ROOTS: …`) so an agent can tell a bad path from a daemon that went away.
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { isLoupeError } from "@loupe/protocol";

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export function ok(structured: Record<string, unknown>, text: string): CallToolResult {
  return { content: [{ type: "text", text }], structuredContent: structured };
}

export function failure(e: unknown): CallToolResult {
  const text = isLoupeError(e) ? `${e.code}: ${e.message}` : `internal error in the Loupe MCP server: ${(e as Error)?.message ?? String(e)}`;
  return { content: [{ type: "text", text }], isError: true };
}

/** Runs a tool body; any error becomes an `isError` result (never a protocol error). */
export async function guarded(body: () => Promise<CallToolResult>, log: (line: string) => void): Promise<CallToolResult> {
  try {
    return await body();
  } catch (e) {
    if (!isLoupeError(e)) log(`tool failed: ${(e as Error)?.stack ?? e}`);
    return failure(e);
  }
}

/** Sends `notifications/progress` when the client asked for it with a progress token; never fails the call. */
export async function reportProgress(extra: Extra, progress: number, total: number | undefined, message: string): Promise<void> {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return;
  await extra
    .sendNotification({ method: "notifications/progress", params: { progressToken, progress, ...(total !== undefined ? { total } : {}), message } })
    .catch(() => {});
  // The SDK's client drops a progress notification it reads after the response it belongs to
  // (typescript-sdk#2580); a turn of the event loop keeps the two writes apart.
  await new Promise((r) => setImmediate(r));
}
