// Optional Streamable HTTP transport for `loupe mcp --http PORT`, stateless: every POST gets a
// fresh MCP server and transport over the one daemon session, so no session state lives here.
// It binds 127.0.0.1 only, and since every local user (and every web page, through the browser)
// can reach a loopback port, each request must pass, in this order: an Origin and Host naming
// exactly this server (DNS rebinding, CSRF), the bearer token from the user's 0600 `mcp-token`
// file (other local users), and a body of at most LIMITS.messageBytes (memory).
import { randomBytes, timingSafeEqual } from "node:crypto";
import { lstat, link, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ErrorCode, LIMITS, LoupeError, runtimeDir } from "@loupe/protocol";

const LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"];
const TOKEN_FILE = "mcp-token";
/** 32 random bytes in base64url, without padding. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** Absent (not a browser), or exactly this server's own loopback origin: a page served elsewhere, even on another local port, is refused. */
export function originAllowed(origin: string | undefined, port: number): boolean {
  return origin === undefined || LOCAL_HOSTS.some((h) => origin === `http://${h}:${port}`);
}

/** A loopback name with this server's port; a Host without the port is what a rebound DNS name sends. */
export function hostAllowed(host: string | undefined, port: number): boolean {
  return host !== undefined && LOCAL_HOSTS.some((h) => host.toLowerCase() === `${h}:${port}`);
}

/** `Authorization: Bearer <token>`, compared in constant time. */
export function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? "");
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * The token `loupe mcp --http` requires, from `<runtimeDir>/mcp-token`, created on first use.
 * The file only ever appears complete and 0600: it is written under a temporary name and linked
 * into place, which (unlike a rename) never replaces a token another process made meanwhile.
 */
export async function loadOrCreateToken(env: NodeJS.ProcessEnv = process.env): Promise<{ token: string; path: string }> {
  const dir = runtimeDir(env);
  const path = join(dir, TOKEN_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await readToken(path);
  if (existing !== null) return { token: existing, path };
  const token = randomBytes(32).toString("base64url");
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(tmp, `${token}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(tmp, path);
    return { token, path };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return { token: (await readToken(path))!, path };
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The token in `path`, null when there is no file; refuses a file others could read or swap. */
async function readToken(path: string): Promise<string | null> {
  const s = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw e;
  });
  if (s === null) return null;
  const remake = "delete it, and a new token is made on the next start (clients then need the new one)";
  if (!s.isFile()) throw new LoupeError(ErrorCode.BadArgument, `${path} is not a plain file, so it cannot hold Loupe's MCP token safely; ${remake}`);
  if (process.getuid && s.uid !== process.getuid()) throw new LoupeError(ErrorCode.BadArgument, `${path} belongs to another user, who can read Loupe's MCP token; ${remake}`);
  if ((s.mode & 0o077) !== 0) {
    throw new LoupeError(ErrorCode.BadArgument, `${path} has mode 0${(s.mode & 0o777).toString(8)}, so other users may have read Loupe's MCP token; run \`chmod 600 ${path}\`, or delete it so that a new token is made on the next start`);
  }
  const token = (await readFile(path, "utf8")).trim();
  if (!TOKEN_SHAPE.test(token)) throw new LoupeError(ErrorCode.BadArgument, `${path} does not hold a Loupe MCP token; ${remake}`);
  return token;
}

function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}, code = -32000): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}

const TOO_LARGE = `request body over ${LIMITS.messageBytes} bytes (${LIMITS.messageBytes >> 20} MiB); send one JSON-RPC message of at most that size per POST`;

/** How long a refused body is still read (and discarded) so that its sender sees the refusal. */
const LINGER_MS = 1_000;

/**
 * The body, or null when it is over `max` bytes (declared in Content-Length, or counted as it
 * arrives); never holds more than `max` bytes. A refused body is read on and discarded until it
 * ends, for at most LINGER_MS: closing a connection with unread data resets it, and a client
 * still sending would lose the answer.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let timer: NodeJS.Timeout | undefined;
    const drop = () => {
      chunks.length = 0;
      timer = setTimeout(() => done(null), LINGER_MS);
    };
    req.on("data", (chunk: Buffer) => {
      if (timer) return;
      bytes += chunk.length;
      if (bytes > max) drop();
      else chunks.push(chunk);
    });
    req.once("end", () => {
      clearTimeout(timer);
      done(timer ? null : Buffer.concat(chunks));
    });
    req.once("error", fail);
    if (Number(req.headers["content-length"]) > max) drop();
  });
}

/**
 * Serves MCP on 127.0.0.1:`port` (0: any free port). `connect` makes a server for one request
 * and connects it to that request's transport.
 */
export async function serveHttp(port: number, token: string, connect: (transport: Transport) => Promise<McpServer>): Promise<{ port: number; close(): Promise<void> }> {
  let bound = port;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!originAllowed(req.headers.origin, bound)) return refuse(res, 403, `Origin ${req.headers.origin} is not allowed; Loupe's MCP endpoint serves local clients only, from http://127.0.0.1:${bound}`);
    if (!hostAllowed(req.headers.host, bound)) return refuse(res, 403, `Host ${req.headers.host ?? "(none)"} is not allowed; connect to 127.0.0.1:${bound}`);
    if (new URL(req.url ?? "/", "http://127.0.0.1").pathname !== "/mcp") return refuse(res, 404, "not found; the MCP endpoint is /mcp");
    if (!authorized(req.headers.authorization, token)) {
      return refuse(res, 401, "missing or wrong access token; send the header `Authorization: Bearer <token>` with the token that `loupe mcp token` prints", { "www-authenticate": 'Bearer realm="loupe"' });
    }
    // Stateless: no server-initiated streams (GET) and no sessions to delete (DELETE).
    if (req.method !== "POST") return refuse(res, 405, "method not allowed; POST JSON-RPC messages to /mcp");
    // The SDK bounds the body too, but it keeps the connection and reads a refused body to its
    // end; reading it here bounds it whatever the SDK version, and a refusal closes the connection.
    const body = await readBody(req, LIMITS.messageBytes);
    if (body === null) return refuse(res, 413, TOO_LARGE, { connection: "close" });
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return refuse(res, 400, "Parse error: the request body is not JSON; POST one JSON-RPC message as JSON", {}, -32700);
    }
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    let server: McpServer | undefined;
    res.on("close", () => {
      void transport.close();
      void server?.close();
    });
    server = await connect(transport);
    await transport.handleRequest(req, res, parsed);
  };
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      // A client that hung up mid-body lands here too; there is no one left to answer then.
      if (!res.headersSent && !res.destroyed) refuse(res, 500, `internal error in the Loupe MCP server: ${(e as Error)?.message ?? e}; send the request again, and report the error if it persists`);
      else res.destroy();
    });
  });
  await new Promise<void>((done, fail) => {
    http.once("error", fail);
    http.listen(port, "127.0.0.1", () => done());
  });
  bound = (http.address() as AddressInfo).port;
  return {
    port: bound,
    close: () => new Promise<void>((done) => http.close(() => done())),
  };
}
