// The `status` tool: this server's roots (files, chunks, pending changes, indexing progress,
// errors), the model pack and the daemon. With waitSeconds it waits for indexing to finish,
// sending `notifications/progress` when the client gave a progress token.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { RootStatus, StatusResult, z } from "@loupe/protocol";
import { guarded, ok, reportProgress } from "../result.js";
import { READ_ONLY } from "../schemas.js";
import type { DaemonSession } from "../session.js";

/** How often a waiting `status` looks at the daemon. */
const POLL_MS = 500;
export const MAX_WAIT_SECONDS = 300;

export const statusInput = z.strictObject({
  waitSeconds: z
    .number()
    .min(0)
    .max(MAX_WAIT_SECONDS)
    .optional()
    .describe(`Wait up to this many seconds (at most ${MAX_WAIT_SECONDS}) for indexing to finish before answering; default 0 (answer at once). Progress is reported while waiting.`),
});

const rootSchema = RootStatus.omit({ indexBytes: true, indexDir: true }).extend({
  lifetime: RootStatus.shape.lifetime.describe("session: added by this MCP server's --root, served while it runs; saved: added with `loupe index`, kept across restarts."),
});

export const statusOutput = z.object({
  ready: z.boolean().describe("True when every root is indexed and searchable (no partial results)."),
  roots: z.array(rootSchema).describe("This server's workspace roots."),
  pack: StatusResult.shape.pack,
  bridged: StatusResult.shape.bridged,
  daemon: z.object({ pid: z.number().int(), version: z.string(), startedAt: z.string() }).describe("The shared Loupe daemon serving this server."),
  lastError: z.string().nullable().describe("The daemon's last internal error, if any."),
});

function rootOut(r: RootStatus): z.infer<typeof rootSchema> {
  return { root: r.root, state: r.state, files: r.files, chunks: r.chunks, skipped: r.skipped, pending: r.pending, progress: r.progress, lastError: r.lastError, latent: r.latent, lifetime: r.lifetime };
}

const busy = (r: { state: string }) => r.state === "scanning" || r.state === "indexing";

export function registerStatus(server: McpServer, session: DaemonSession, log: (line: string) => void): void {
  server.registerTool(
    "status",
    {
      title: "Index status",
      description:
        "Show what Loupe has indexed for this workspace: per root the files and chunks, pending changes, indexing progress and " +
        "errors; the model pack; the languages bridged to English (a question in one finds notes in the others). Call it when search says the index is still building (waitSeconds waits for it) or finds nothing you expected.",
      inputSchema: statusInput,
      outputSchema: statusOutput,
      annotations: { title: "Index status", ...READ_ONLY },
    },
    (args, extra) =>
      guarded(async () => {
        const deadline = Date.now() + (args.waitSeconds ?? 0) * 1000;
        let sent = -1;
        let s: StatusResult;
        let mine: z.infer<typeof rootSchema>[];
        for (;;) {
          s = await session.call((client) => client.status());
          const names = new Set(session.roots);
          mine = s.roots.filter((r) => names.has(r.root)).map(rootOut);
          for (const [root, message] of session.rootErrors) {
            mine.push({ root, state: "error", files: 0, chunks: 0, skipped: 0, pending: 0, progress: null, lastError: message, latent: { ready: 0, total: 0 }, lifetime: "session" });
          }
          const indexing = mine.filter(busy);
          if (indexing.length === 0 || Date.now() >= deadline || extra.signal.aborted) break;
          const done = indexing.reduce((a, r) => a + (r.progress?.done ?? 0), 0);
          const total = indexing.reduce((a, r) => a + (r.progress?.total ?? 0), 0);
          if (done > sent) {
            sent = done;
            await reportProgress(extra, done, total || undefined, total ? `indexing: ${done.toLocaleString("en")} / ${total.toLocaleString("en")} files` : "indexing: scanning the workspace");
          }
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
        const ready = mine.every((r) => !busy(r) && r.state !== "error");
        const text =
          `${ready ? "ready" : "not ready"}: ${mine.length} root${mine.length === 1 ? "" : "s"}\n` +
          mine
            .map((r) =>
              `${r.root}\n  ${r.state}${r.progress ? ` ${r.progress.done}/${r.progress.total} files` : ""} · ${r.files} files, ${r.chunks} chunks${r.latent.ready < r.latent.total ? ` (meaning vectors for ${r.latent.ready} of ${r.latent.total} files)` : ""}, ${r.skipped} skipped, ${r.pending} pending` +
              (r.lastError ? `\n  error: ${r.lastError}` : ""),
            )
            .join("\n") +
          `\npack ${s.pack ? `${s.pack.name} on ${s.pack.provider}` : "none"} · bridged to English: ${s.bridged.length ? s.bridged.join(", ") : "none"} · daemon pid ${s.pid} (${s.version}) since ${s.startedAt}` +
          (s.lastError ? `\ndaemon last error: ${s.lastError}` : "") + "\n";
        return ok({ ready, roots: mine, pack: s.pack, bridged: s.bridged, daemon: { pid: s.pid, version: s.version, startedAt: s.startedAt }, lastError: s.lastError }, text);
      }, log),
  );
}
