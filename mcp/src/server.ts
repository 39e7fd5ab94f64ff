// `loupe mcp`: Loupe for LLM agents over the Model Context Protocol. A thin adapter: every tool
// (one file each under tools/) turns its arguments into one daemon request through the shared
// DaemonClient and its result into structured content plus a text mirror. No retrieval logic
// lives here. stdout carries the protocol (stdio transport); logs go to stderr.
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { parseArgs } from "node:util";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { daemonArgsOf, DaemonClient, ErrorCode, LIMITS, LoupeError } from "@loupe/protocol";
import { loadOrCreateToken, serveHttp } from "./http.js";
import { DaemonSession } from "./session.js";
import { MCP_USAGE } from "./usage.js";
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

/** What the `loupe` executable tells the MCP server it runs in. */
export interface McpHost {
  /** Loupe's version, reported to MCP clients. */
  version: string;
  /** The command that runs `loupe`, to start the daemon when none answers (see ClientOptions.loupeCommand). */
  loupeCommand: string[];
}

/** One MCP server over a daemon session; stdio uses one, stateless HTTP one per request. */
export function createMcpServer(session: DaemonSession, log: (line: string) => void, version: string): McpServer {
  const server = new McpServer({ name: "loupe", title: "Loupe", version }, { instructions: INSTRUCTIONS });
  registerSearch(server, session, log);
  registerRead(server, session, log);
  registerSimilar(server, session, log);
  registerExplain(server, session, log);
  registerStatus(server, session, log);
  // registerTool advertises `tools.listChanged`, but this server's tool list is fixed: a client
  // that believes it would wait for change notifications that never come.
  server.server.registerCapabilities({ tools: { listChanged: false } });
  return server;
}

/** A JSON-RPC error answer; `id` null when the message it answers had none that could be read. */
function errorAnswer(id: string | number | null, code: number, message: string): JSONRPCMessage {
  return { jsonrpc: "2.0", id, error: { code, message } } as unknown as JSONRPCMessage;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Why a `tools/call` request cannot be a call of any tool, or null when it can. The SDK parses
 * these params with its request schema and answers a mismatch as an internal error (-32603)
 * carrying the schema's issues as JSON; a client sending the wrong shape should instead learn
 * what the shape is.
 */
export function toolCallProblem(message: JSONRPCMessage): string | null {
  if (!("method" in message) || message.method !== "tools/call" || !("id" in message)) return null;
  const params: unknown = message.params;
  if (!isPlainObject(params) || typeof params.name !== "string") return "Invalid params: tools/call needs params with the tool's name as a string in `name`; see tools/list";
  if (params.arguments !== undefined && !isPlainObject(params.arguments)) return "Invalid params: arguments must be a JSON object with the tool's fields; see tools/list for each tool's input schema";
  return null;
}

/** Connects `server` to `transport` (stdio, or one HTTP request) and answers malformed tool calls itself. */
export async function connectMcpServer(server: McpServer, transport: Transport): Promise<McpServer> {
  await server.connect(transport);
  const forward = transport.onmessage!;
  transport.onmessage = (message, extra) => {
    const problem = toolCallProblem(message);
    if (problem === null) return forward(message, extra);
    void transport.send(errorAnswer((message as { id: string | number }).id, -32602, problem)).catch(() => {});
  };
  return server;
}

/**
 * Passes stdin on to the SDK's stdio transport one whole line at a time, at most `max` bytes
 * each. The SDK would buffer a longer line up to 10 MiB and then close the whole session; here
 * it is dropped while it streams in (never held) and `onOverflow` answers it, and the session
 * goes on with the next line. Blank lines are dropped too: they are no message to answer.
 */
export class LineLimit extends Transform {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private dropping = false;

  constructor(
    private readonly max: number,
    private readonly onOverflow: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(10, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.dropping) {
        this.heldBytes += end - start;
        if (this.heldBytes > this.max) {
          this.dropping = true;
          this.held = [];
          this.onOverflow();
        } else this.held.push(chunk.subarray(start, end));
      }
      if (newline === -1) break;
      if (!this.dropping && this.held.some((b) => b.some((c) => c !== 32 && c !== 9 && c !== 13))) this.push(Buffer.concat([...this.held, NEWLINE]));
      this.held = [];
      this.heldBytes = 0;
      this.dropping = false;
      start = newline + 1;
    }
    done();
  }
}

const NEWLINE = Buffer.from("\n");

const OPTIONS = {
  root: { type: "string", multiple: true },
  http: { type: "string" },
  provider: { type: "string" },
  threads: { type: "string" },
  pack: { type: "string" },
  quiet: { type: "boolean" },
} as const;

function bad(message: string): never {
  throw new LoupeError(ErrorCode.BadArgument, `${message}\nUsage: ${MCP_USAGE}`);
}

/** `loupe mcp …` (argv as given to `loupe`, starting with "mcp"). Resolves when the client disconnects. */
export async function runMcpCommand(argv: string[], host: McpHost): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    bad((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 2 && positionals[1] === "token") {
    const { token, path } = await loadOrCreateToken();
    process.stdout.write(`${token}\n`);
    process.stderr.write(`loupe mcp: configure the MCP client of \`loupe mcp --http PORT\` to send the header "Authorization: Bearer <the token above>" (kept in ${path})\n`);
    return;
  }
  if (positionals.length !== 1 || positionals[0] !== "mcp") bad(`\`loupe mcp\` takes no positional arguments other than \`token\`; got ${positionals.slice(1).join(" ")}`);
  const log = values.quiet ? () => {} : (line: string) => process.stderr.write(`loupe mcp: ${line}\n`);

  const roots = (values.root?.length ? values.root : ["."]).map((r) => resolve(r));
  for (const root of roots) {
    const s = await stat(root).catch(() => null);
    if (!s?.isDirectory()) throw new LoupeError(ErrorCode.WorkspaceRoot, `--root ${root} is not a folder; pass the folder that holds the code and notes to search`);
  }
  const daemonArgs = daemonArgsOf(values);
  const session = new DaemonSession({ roots, log, connect: () => DaemonClient.connect({ start: true, log, name: "loupe-mcp", daemonArgs, loupeCommand: host.loupeCommand }) });

  if (values.http !== undefined) {
    const port = Number(values.http);
    if (!Number.isInteger(port) || port < 0 || port > 65535) bad(`--http needs a port number from 0 to 65535, got "${values.http}"`);
    const { token, path: tokenFile } = await loadOrCreateToken();
    const http = await serveHttp(port, token, (transport) => connectMcpServer(createMcpServer(session, log, host.version), transport));
    log(`listening on http://127.0.0.1:${http.port}/mcp (workspace roots: ${roots.join(", ")}); clients send "Authorization: Bearer <token>" with the token in ${tokenFile} (\`loupe mcp token\` prints it)`);
    session.warmUp();
    await new Promise<void>((done) => {
      const stop = () => void http.close().then(done);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    session.close();
    return;
  }

  const server = createMcpServer(session, log, host.version);
  const lines = new LineLimit(LIMITS.messageBytes, () =>
    void transport.send(errorAnswer(null, -32700, `Parse error: message over ${LIMITS.messageBytes} bytes; send one JSON-RPC message per line, each under ${LIMITS.messageBytes >> 20} MiB`)).catch(() => {}),
  );
  const transport = new StdioServerTransport(process.stdin.pipe(lines), process.stdout);
  await connectMcpServer(server, transport);
  // The SDK reports a line it cannot read only to onerror, and the client waits for an answer
  // that never comes; JSON-RPC answers such a line with id null.
  const reported = transport.onerror;
  transport.onerror = (e) => {
    if (e instanceof SyntaxError) void transport.send(errorAnswer(null, -32700, `Parse error: a line is not JSON (${e.message.slice(0, 200)}); send one JSON-RPC message per line`)).catch(() => {});
    else if (e.name === "ZodError") void transport.send(errorAnswer(null, -32600, 'Invalid Request: a line is JSON but not a JSON-RPC 2.0 message; send {"jsonrpc": "2.0", "id": …, "method": …, "params": {…}}')).catch(() => {});
    reported?.(e);
  };
  const closed = new Promise<void>((done) => (server.server.onclose = done));
  // The SDK's stdio transport does not end when stdin does; the client closing it means goodbye.
  process.stdin.once("end", () => void server.close());
  session.warmUp();
  await closed;
  session.close();
}
