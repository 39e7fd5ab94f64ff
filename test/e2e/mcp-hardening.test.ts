// Tier: end-to-end. The hardening of `loupe mcp` against hostile or broken clients: real
// `loupe mcp` child processes from daemon/bin/loupe.js, spoken to with the SDK's own Client, raw
// HTTP requests (node:http, which sends any Host header) and raw stdio lines. Its own cache and
// runtime folders under a short /tmp path, so the daemon it starts is this test's alone. Needs
// `npm run build` (which `npm test` does first).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readdir, rm, stat, symlink } from "node:fs/promises";
import { request, type IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpMcp } from "../support/cli.js";
import { TEST_CACHE } from "../support/default-pack.js";

const BIN = new URL("../../daemon/bin/loupe.js", import.meta.url).pathname;
const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;
const MAX_MESSAGE = 4 << 20;

let tmp: string;
let ws: string;
let env: NodeJS.ProcessEnv;

function loupe(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv } });
}

const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");

beforeAll(async () => {
  // Short paths: a Unix socket path must stay under 108 bytes.
  tmp = await mkdtemp("/tmp/loupe-mh-");
  ws = join(tmp, "ws");
  await cp(WORKSPACE, ws, { recursive: true });
  env = { ...process.env, LOUPE_CACHE_DIR: join(tmp, "c"), LOUPE_RUNTIME_DIR: join(tmp, "r") };
  delete env.LOUPE_SOCKET;
  delete env.XDG_RUNTIME_DIR;
  delete env.XDG_CACHE_HOME;
  // The default pack, once converted for the other tests, is lent to this daemon rather than
  // converted again; a missing or stale one is converted into this test's own cache as usual.
  const packs = join(TEST_CACHE, "packs");
  if (existsSync(packs)) {
    await mkdir(join(tmp, "c", "packs"), { recursive: true });
    for (const name of await readdir(packs)) if (!name.includes(".tmp-")) await symlink(join(packs, name), join(tmp, "c", "packs", name));
  }
});

afterAll(async () => {
  await loupe(["daemon", "stop"]).catch(() => {});
  await rm(tmp, { recursive: true, force: true });
});

/** `loupe mcp` over raw stdio lines: what a broken or hostile client can write. */
class RawStdio {
  readonly child: ChildProcess;
  private readonly messages: Array<Record<string, any>> = [];
  private waiters: Array<() => void> = [];

  constructor() {
    this.child = spawn(process.execPath, [BIN, "mcp", "--root", ws, "--quiet"], { env, stdio: ["pipe", "pipe", "ignore"] });
    this.child.stdin!.on("error", () => {});
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      this.messages.push(JSON.parse(line) as Record<string, any>);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  write(data: string | Buffer): void {
    this.child.stdin!.write(data);
  }

  send(message: Record<string, unknown>): void {
    this.write(`${JSON.stringify(message)}\n`);
  }

  /** The next message matching `match`, taken off the queue; fails after `ms`. */
  async next(match: (m: Record<string, any>) => boolean, ms = 10_000): Promise<Record<string, any>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.messages.findIndex(match);
      if (i >= 0) return this.messages.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${ms} ms; got ${JSON.stringify(this.messages).slice(0, 500)}`);
      await new Promise<void>((done) => {
        const timer = setTimeout(done, left);
        this.waiters.push(() => (clearTimeout(timer), done()));
      });
    }
  }

  async initialize(): Promise<void> {
    this.send({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } } });
    await this.next((m) => m.id === 0);
    this.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  }

  /** The server still answers: a ping comes back. */
  async alive(id: number): Promise<void> {
    this.send({ jsonrpc: "2.0", id, method: "ping" });
    expect(await this.next((m) => m.id === id)).toEqual({ jsonrpc: "2.0", id, result: {} });
  }

  close(): void {
    this.child.stdin!.end();
    this.child.kill();
  }
}

describe("loupe mcp over stdio: malformed input", () => {
  let raw: RawStdio;

  beforeAll(async () => {
    raw = new RawStdio();
    await raw.initialize();
  });

  afterAll(() => raw?.close());

  it("answers a line that is not JSON with -32700 and id null, and goes on", async () => {
    raw.write("this is not json\n");
    const m = await raw.next((x) => x.id === null);
    expect(m).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700, message: expect.stringMatching(/^Parse error: /) } });
    await raw.alive(1);
  });

  it("answers JSON that is not a JSON-RPC message with -32600 Invalid Request", async () => {
    raw.send({ hello: "world" });
    const m = await raw.next((x) => x.id === null);
    expect(m).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600, message: expect.stringMatching(/^Invalid Request: /) } });
    expect(m.error.message.length).toBeLessThan(300);
    await raw.alive(2);
  });

  it.each([["a string", "abc"], ["an array", [1]], ["null", null]])("answers tools/call whose arguments are %s with -32602 and a plain message", async (_, args) => {
    raw.send({ jsonrpc: "2.0", id: 10, method: "tools/call", params: { name: "search", arguments: args } });
    const m = await raw.next((x) => x.id === 10);
    expect(m.error).toEqual({ code: -32602, message: expect.stringMatching(/^Invalid params: arguments must be a JSON object with the tool's fields; see tools\/list/) });
    // A plain sentence, not a dump of the schema's issues.
    expect(m.error.message).not.toMatch(/[[{]|zod|expected/i);
  });

  it("answers tools/call without a tool name with -32602", async () => {
    raw.send({ jsonrpc: "2.0", id: 11, method: "tools/call", params: { arguments: {} } });
    expect((await raw.next((x) => x.id === 11)).error).toMatchObject({ code: -32602, message: expect.stringMatching(/name/) });
  });

  it("drops a line over 4 MiB without holding it, answers -32700, and goes on", async () => {
    // 12 MiB: more than the SDK's own 10 MiB read buffer, which would close the session.
    const chunk = Buffer.alloc(1 << 20, "a");
    for (let i = 0; i < 12; i++) raw.write(chunk);
    raw.write("\n");
    const m = await raw.next((x) => x.id === null, 20_000);
    expect(m).toMatchObject({ id: null, error: { code: -32700, message: expect.stringContaining(`over ${MAX_MESSAGE} bytes`) } });
    await raw.alive(3);
  });
});

describe("loupe mcp over stdio: the SDK client", () => {
  let client: Client;

  beforeAll(async () => {
    client = new Client({ name: "loupe-mh", version: "0" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--root", ws], env: env as Record<string, string>, stderr: "ignore" }));
  });

  afterAll(async () => {
    await client?.close();
  });

  it("does not advertise tools.listChanged: the tool list never changes", () => {
    const caps = client.getServerCapabilities();
    expect(caps?.tools).toBeDefined();
    expect(caps!.tools!.listChanged ?? false).toBe(false);
  });

  it("refuses a 1 MB query quickly, naming the limit without echoing the query", async () => {
    const started = Date.now();
    const r = (await client.callTool({ name: "search", arguments: { query: "retry ".repeat(200_000) } })) as CallToolResult;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.isError).toBe(true);
    expect(text(r).length).toBeLessThan(1_000);
    expect(text(r)).toMatch(/query is [\d,]+ characters; the limit is 4,096/);
  });

  it("refuses filter lists over 64 entries and paths over 4096 characters", async () => {
    const many = Array.from({ length: 65 }, (_, i) => `src/${i}/**`);
    for (const args of [{ query: "x", paths: many }, { query: "x", exclude: ["a".repeat(5_000)] }]) {
      const r = (await client.callTool({ name: "search", arguments: args })) as CallToolResult;
      expect(r.isError, text(r)).toBe(true);
      expect(text(r)).toMatch(/entries; the limit is 64|characters; the limit is 4,096/);
    }
    const r = (await client.callTool({ name: "read", arguments: { path: "a/".repeat(3_000) } })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/path is [\d,]+ characters; the limit is 4,096/);
  });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

describe("loupe mcp --http", () => {
  let server: ChildProcess;
  let port: number;
  let url: URL;
  const tokenFile = () => join(tmp, "r", "mcp-token");
  const list = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });

  /** One POST to /mcp over node:http (any header, including Host); the body may be sent in chunks. */
  function post(headers: Record<string, string | number>, body: string | Buffer[] = list): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      let answered = false;
      const req = request(
        { host: "127.0.0.1", port, path: "/mcp", method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } },
        (res) => {
          answered = true;
          let data = "";
          res.on("data", (d: Buffer) => (data += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
          res.on("error", () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
        },
      );
      // A server that refuses a large body stops reading it: the rest of the upload may fail.
      req.on("error", (e) => answered || reject(e));
      if (typeof body === "string") req.end(body);
      else {
        for (const b of body) req.write(b);
        req.end();
      }
    });
  }

  beforeAll(async () => {
    ({ server, url } = await startHttpMcp(env, ws));
    port = Number(url.port);
  });

  afterAll(() => {
    server?.kill();
  });

  async function token(): Promise<string> {
    return (await loupe(["mcp", "token"])).stdout.trim();
  }

  it("`loupe mcp token` prints the token, kept in a 0600 file in the runtime folder, with a hint on stderr", async () => {
    const { stdout, stderr } = await loupe(["mcp", "token"]);
    expect(stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(stderr).toMatch(/Authorization: Bearer/);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect((await stat(tokenFile())).mode & 0o777).toBe(0o600);
    expect(await token()).toBe(stdout.trim());
  });

  it("creates the runtime folder 0700 and refuses a token file others can read", async () => {
    const runtime = join(tmp, "r2", "nested");
    const first = await loupe(["mcp", "token"], { LOUPE_RUNTIME_DIR: runtime });
    expect((await stat(runtime)).mode & 0o777).toBe(0o700);
    expect(first.stdout.trim()).not.toBe(await token());
    await chmod(join(runtime, "mcp-token"), 0o644);
    const refused = await loupe(["mcp", "token"], { LOUPE_RUNTIME_DIR: runtime }).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/mcp-token.*0644.*chmod 600 .*or delete it/);
  });

  it("refuses a request without a token: 401, WWW-Authenticate: Bearer, a JSON-RPC error", async () => {
    const a = await post({});
    expect(a.status).toBe(401);
    expect(a.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect(JSON.parse(a.body)).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000, message: expect.stringMatching(/loupe mcp token/) } });
  });

  it("refuses a wrong token, a token of another length and another scheme with 401", async () => {
    const right = await token();
    const wrong = right.slice(0, -1) + (right.endsWith("A") ? "B" : "A");
    for (const authorization of [`Bearer ${wrong}`, `Bearer ${right}x`, `Bearer `, `Basic ${right}`]) {
      expect((await post({ authorization })).status, authorization).toBe(401);
    }
  });

  it("serves tools/list and search to a client that sends the token", async () => {
    const c = new Client({ name: "loupe-mh-http", version: "0" });
    await c.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${await token()}` } } }));
    expect((await c.listTools()).tools.map((t) => t.name).sort()).toEqual(["explain", "read", "search", "similar", "status"]);
    expect(c.getServerCapabilities()?.tools?.listChanged ?? false).toBe(false);
    const s = (await c.callTool({ name: "status", arguments: { waitSeconds: 120 } })) as CallToolResult;
    expect((s.structuredContent as { ready: boolean }).ready, text(s)).toBe(true);
    const r = (await c.callTool({ name: "search", arguments: { query: "retry with exponential backoff" } })) as CallToolResult;
    expect(r.isError, text(r)).toBeFalsy();
    expect((r.structuredContent as { hits: Array<{ path: string }> }).hits[0]!.path).toBe("src/retry.py");
    await c.close();
  });

  it("answers tools/call with non-object arguments with -32602 over HTTP too", async () => {
    const call = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "search", arguments: "abc" } });
    const a = await post({ authorization: `Bearer ${await token()}` }, call);
    expect(a.status).toBe(200);
    // One server-sent event carrying the answer.
    const answer = JSON.parse(/^data: (.*)$/m.exec(a.body)![1]!) as Record<string, any>;
    expect(answer).toEqual({ jsonrpc: "2.0", id: 7, error: { code: -32602, message: expect.stringMatching(/^Invalid params: arguments must be a JSON object/) } });
  });

  it("accepts only this server's own loopback origins: another port is refused", async () => {
    const authorization = `Bearer ${await token()}`;
    for (const origin of [`http://localhost:${port + 1}`, `http://127.0.0.1:${port + 1}`, "http://localhost", `https://localhost:${port}`, "https://evil.example"]) {
      expect((await post({ authorization, origin })).status, origin).toBe(403);
    }
    for (const origin of [`http://localhost:${port}`, `http://127.0.0.1:${port}`, `http://[::1]:${port}`]) {
      expect((await post({ authorization, origin })).status, origin).toBe(200);
    }
  });

  it("refuses a Host without the port, or with another one", async () => {
    const authorization = `Bearer ${await token()}`;
    for (const host of ["localhost", "127.0.0.1", `localhost:${port + 1}`, `evil.example:${port}`]) {
      expect((await post({ authorization, host })).status, host).toBe(403);
    }
    expect((await post({ authorization, host: `localhost:${port}` })).status).toBe(200);
  });

  it("refuses a body over 4 MiB with 413 and closes the connection, declared or chunked", async () => {
    const authorization = `Bearer ${await token()}`;
    const big = Buffer.alloc(MAX_MESSAGE + 1, " ");
    const declared = await post({ authorization, "content-length": big.length }, [big]);
    const chunked = await post({ authorization }, Array.from({ length: 80 }, () => Buffer.alloc(64 << 10, " ")));
    for (const a of [declared, chunked]) {
      expect(a.status).toBe(413);
      expect(JSON.parse(a.body)).toMatchObject({ jsonrpc: "2.0", id: null, error: { message: expect.stringContaining(`${MAX_MESSAGE} bytes`) } });
      // Not kept alive: the server does not go on reading the rest of a body it refused.
      expect(a.headers.connection).toBe("close");
    }
  });
});
