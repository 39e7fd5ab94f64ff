// Optional Streamable HTTP transport for `loupe mcp --http PORT`, stateless: every POST gets a
// fresh MCP server and transport over the one daemon session, so no session state lives here.
// It binds 127.0.0.1 only and refuses requests a web page could forge (DNS rebinding, CSRF):
// an Origin header other than a localhost one, or a Host header that does not name this server.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Absent, or an http(s) origin on a loopback host. */
export function originAllowed(origin: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    const u = new URL(origin);
    return (u.protocol === "http:" || u.protocol === "https:") && LOCAL_HOSTS.has(u.hostname);
  } catch {
    return false;
  }
}

function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  return !!m && LOCAL_HOSTS.has(m[1]!) && (m[2] === undefined || Number(m[2]) === port);
}

function refuse(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

export async function serveHttp(port: number, makeServer: () => McpServer): Promise<{ port: number; close(): Promise<void> }> {
  let bound = port;
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      if (!originAllowed(req.headers.origin)) return refuse(res, 403, `Origin ${req.headers.origin} is not allowed; Loupe's MCP endpoint serves local clients only`);
      if (!hostAllowed(req.headers.host, bound)) return refuse(res, 403, `Host ${req.headers.host ?? "(none)"} is not allowed; connect to 127.0.0.1:${bound}`);
      if (new URL(req.url ?? "/", "http://127.0.0.1").pathname !== "/mcp") return refuse(res, 404, "not found; the MCP endpoint is /mcp");
      // Stateless: no server-initiated streams (GET) and no sessions to delete (DELETE).
      if (req.method !== "POST") return refuse(res, 405, "method not allowed; POST JSON-RPC messages to /mcp");
      const server = makeServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => {
        void transport.close();
        void server.close();
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(req, res);
      } catch (e) {
        if (!res.headersSent) refuse(res, 500, `internal error: ${(e as Error).message}`);
      }
    })();
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
