// `loupe mcp`: Loupe for LLM agents over the Model Context Protocol. A thin adapter: every tool
// (one file each under tools/) turns its arguments into one daemon request through the shared
// DaemonClient and its result into structured content plus a text mirror. No retrieval logic
// lives here. stdout carries the protocol (stdio transport); logs go to stderr.
import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { DaemonClient } from "../client.js";
import { ErrorCode, LoupeError } from "../errors.js";
import { serveHttp } from "./http.js";
import { DaemonSession } from "./session.js";
import { registerExplain } from "./tools/explain.js";
import { registerRead } from "./tools/read.js";
import { registerSearch } from "./tools/search.js";
import { registerSimilar } from "./tools/similar.js";
import { registerStatus } from "./tools/status.js";

export const INSTRUCTIONS =
  "Loupe searches this workspace's code and notes by meaning and by exact words, from a local index. " +
  "Start with `search` (a question, a concept or an identifier), then `read` a hit's path with its startLine/endLine. " +
  "`similar` finds related code and notes from a passage, `explain` says why a hit matched, `status` shows indexing. " +
  "While the index is still building, results are partial and say so.";

function version(): string {
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** One MCP server over a daemon session; stdio uses one, stateless HTTP one per request. */
export function createMcpServer(session: DaemonSession, log: (line: string) => void): McpServer {
  const server = new McpServer({ name: "loupe", title: "Loupe", version: version() }, { instructions: INSTRUCTIONS });
  registerSearch(server, session, log);
  registerRead(server, session, log);
  registerSimilar(server, session, log);
  registerExplain(server, session, log);
  registerStatus(server, session, log);
  return server;
}

const OPTIONS = {
  root: { type: "string", multiple: true },
  http: { type: "string" },
  provider: { type: "string" },
  threads: { type: "string" },
  pack: { type: "string" },
  quiet: { type: "boolean" },
} as const;

export const MCP_USAGE = `loupe mcp [--root DIR]... [--http PORT] [--quiet]
      Serve LLM agents over MCP (stdio; --http PORT: Streamable HTTP on 127.0.0.1 only). Tools:
      search, read, similar, explain, status over the --root folders (default: the current folder),
      which are added to the daemon (started when needed) and indexed in the background.`;

function bad(message: string): never {
  throw new LoupeError(ErrorCode.BadArgument, `${message}\nUsage: ${MCP_USAGE}`);
}

/** `loupe mcp …` (argv as given to `loupe`, starting with "mcp"). Resolves when the client disconnects. */
export async function runMcpCommand(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    bad((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || positionals[0] !== "mcp") bad(`mcp takes no positional arguments; got ${positionals.slice(1).join(" ")}`);
  const log = values.quiet ? () => {} : (line: string) => process.stderr.write(`loupe mcp: ${line}\n`);

  const roots = (values.root?.length ? values.root : ["."]).map((r) => resolve(r));
  for (const root of roots) {
    const s = await stat(root).catch(() => null);
    if (!s?.isDirectory()) throw new LoupeError(ErrorCode.WorkspaceRoot, `--root ${root} is not a folder; pass the folder that holds the code and notes to search`);
  }
  const daemonArgs = [
    ...(values.provider ? ["--provider", values.provider] : []),
    ...(values.threads ? ["--threads", values.threads] : []),
    ...(values.pack ? ["--pack", resolve(values.pack)] : []),
  ];
  const session = new DaemonSession({ roots, log, connect: () => DaemonClient.connect({ start: true, log, name: "loupe-mcp", daemonArgs }) });

  if (values.http !== undefined) {
    const port = Number(values.http);
    if (!Number.isInteger(port) || port < 0 || port > 65535) bad(`--http needs a port number from 0 to 65535, got "${values.http}"`);
    const http = await serveHttp(port, () => createMcpServer(session, log));
    log(`listening on http://127.0.0.1:${http.port}/mcp (workspace roots: ${roots.join(", ")})`);
    session.warmUp();
    await new Promise<void>((done) => {
      const stop = () => void http.close().then(done);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    session.close();
    return;
  }

  const server = createMcpServer(session, log);
  const transport = new StdioServerTransport();
  await server.connect(transport);
  const closed = new Promise<void>((done) => (server.server.onclose = done));
  // The SDK's stdio transport does not end when stdin does; the client closing it means goodbye.
  process.stdin.once("end", () => void server.close());
  session.warmUp();
  await closed;
  session.close();
}
