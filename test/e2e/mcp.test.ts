// Tier: end-to-end. `loupe mcp` as an MCP client runs it: the SDK's own Client over a real stdio
// child process (and once over Streamable HTTP), against a copy of fixtures/workspace, with its
// own cache and runtime folders so that the daemon it starts is this test's alone. Needs
// `npm run build` (which `npm test` does first).
import { execFile, type ChildProcess } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpMcp } from "../support/cli.js";

const BIN = new URL("../../daemon/bin/loupe.js", import.meta.url).pathname;
const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;
/** Extra notes so that the first indexing lasts long enough to be seen in progress. */
const FILLER_NOTES = 200;

let tmp: string;
let ws: string;
let env: NodeJS.ProcessEnv;
let client: Client;
/** `loupe daemon status` before the MCP server started. */
let statusBefore: string;

function loupe(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [BIN, ...args], { env });
}

/** Calls a tool; the result as the client sees it (protocol errors are thrown). */
async function call(name: string, args: Record<string, unknown> = {}, onprogress?: (p: { progress: number; total?: number; message?: string }) => void): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress } : {})) as CallToolResult;
}

const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");

/** A tool result that must have succeeded: its structured content. */
function structured<T = Record<string, any>>(r: CallToolResult): T {
  expect(r.isError, text(r)).toBeFalsy();
  expect(r.structuredContent).toBeDefined();
  return r.structuredContent as T;
}

function failed(r: CallToolResult, pattern: RegExp): void {
  expect(r.isError).toBe(true);
  expect(text(r)).toMatch(pattern);
}

beforeAll(async () => {
  // Short paths: a Unix socket path must stay under 108 bytes.
  tmp = await mkdtemp("/tmp/loupe-mcp-");
  ws = join(tmp, "ws");
  await cp(WORKSPACE, ws, { recursive: true });
  await symlink("/etc", join(ws, "etc-link"));
  await mkdir(join(ws, "notes", "inventory"));
  for (let i = 0; i < FILLER_NOTES; i++) {
    await writeFile(join(ws, "notes", "inventory", `shelf-${i}.md`), `# Shelf ${i}\n\nBox ${i} holds ${i * 7} screws, ${i + 3} hinges and a spare key for cabinet ${i % 5}.\n`);
  }
  env = { ...process.env, LOUPE_CACHE_DIR: join(tmp, "c"), LOUPE_RUNTIME_DIR: join(tmp, "r") };
  statusBefore = (await loupe("daemon", "status")).stdout;
  client = new Client({ name: "loupe-e2e", version: "0" });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--root", ws], env: env as Record<string, string>, stderr: "ignore" }));
});

afterAll(async () => {
  await client?.close();
  await loupe("daemon", "stop").catch(() => {});
  await rm(tmp, { recursive: true, force: true });
});

describe("loupe mcp: tools/list", () => {
  it("lists five read-only tools with every input field described and an output schema", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["explain", "read", "search", "similar", "status"]);
    for (const t of tools) {
      expect(t.description!.length, t.name).toBeGreaterThan(80);
      expect(t.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false });
      expect(t.inputSchema.additionalProperties, t.name).toBe(false);
      for (const [field, schema] of Object.entries(t.inputSchema.properties ?? {})) {
        expect((schema as { description?: string }).description, `${t.name}.${field}`).toBeTruthy();
      }
      expect(t.outputSchema?.type, t.name).toBe("object");
    }
    const search = tools.find((t) => t.name === "search")!;
    expect(search.inputSchema.required).toEqual(["query"]);
    expect(Object.keys(search.inputSchema.properties!)).toEqual(["query", "limit", "mode", "scope", "paths", "exclude", "kinds", "languages", "roots", "cursor"]);
  });
});

describe("loupe mcp: a daemon that is not running yet", () => {
  it("starts it, and search answers at once with partial results and a note while indexing", async () => {
    expect(statusBefore).toMatch(/not running/);
    const r = await call("search", { query: "retry with exponential backoff" });
    const s = structured<{ indexing: { done: number; total: number } | null; hits: unknown[] }>(r);
    // The daemon was started by this call's server and has just begun indexing 200+ files.
    expect(s.indexing).not.toBeNull();
    expect(text(r)).toMatch(/^index still building: (\d+% of [\d,]+ files|scanning the workspace for files|meaning vectors for \d+% of [\d,]+ files)[^;]*; partial results below\./);
    expect((await loupe("daemon", "status")).stdout).toMatch(/pid \d+/);
  });

  it("status waits for indexing, with progress notifications, until every root is ready", async () => {
    const progress: Array<{ progress: number; total?: number; message?: string }> = [];
    const before = structured(await call("status"));
    const s = structured(await call("status", { waitSeconds: 120 }, (p) => progress.push(p)));
    expect(s).toMatchObject({ ready: true, pack: { name: "use-lite-en", scripts: ["Latin"] }, bridged: expect.arrayContaining(["de", "zh"]), lastError: null });
    expect(s.roots).toHaveLength(1);
    expect(s.roots[0]).toMatchObject({ root: ws, state: "watching", files: 7 + FILLER_NOTES, pending: 0, lastError: null });
    // 200+ files take seconds to encode, so indexing is still under way here (checked, not assumed).
    expect(before.ready).toBe(false);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]!.message).toMatch(/^indexing: /);
    const values = progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });
});

describe("loupe mcp: search", () => {
  it("returns structured hits with 1-based lines, symbols and concepts, mirrored as text", async () => {
    const r = await call("search", { query: "retry with exponential backoff", limit: 5 });
    const s = structured<{ hits: Array<Record<string, any>>; indexing: unknown; nextCursor: string | null; mode: string }>(r);
    expect(s.indexing).toBeNull();
    expect(s.mode).toBe("hybrid");
    expect(s.hits.length).toBeGreaterThan(0);
    expect(s.hits[0]).toMatchObject({ path: "src/retry.py", root: ws, file: join(ws, "src/retry.py"), symbol: "retry_with_backoff", language: "py", kind: "code" });
    expect(s.hits[0]!.startLine).toBeGreaterThanOrEqual(1);
    expect(s.hits[0]!.endLine).toBeGreaterThanOrEqual(s.hits[0]!.startLine);
    expect(s.hits[0]!.concepts.length).toBeGreaterThan(0);
    expect(s.hits[0]!.concepts[0]).toEqual({ id: expect.any(Number), label: expect.any(String), weight: expect.any(Number) });
    expect(text(r)).toContain(`1. src/retry.py:${s.hits[0]!.startLine}-${s.hits[0]!.endLine}`);
    expect(text(r)).not.toMatch(/still building/);
  });

  it("pages with an opaque cursor that only its own search accepts", async () => {
    const first = structured<{ hits: Array<{ path: string; startLine: number }>; nextCursor: string | null }>(await call("search", { query: "screws and hinges", limit: 3, kinds: ["notes"] }));
    expect(first.hits).toHaveLength(3);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = structured<typeof first>(await call("search", { query: "screws and hinges", limit: 3, kinds: ["notes"], cursor: first.nextCursor }));
    expect(second.hits).toHaveLength(3);
    const ids = (h: { path: string; startLine: number }) => `${h.path}:${h.startLine}`;
    expect(second.hits.map(ids).filter((id) => first.hits.map(ids).includes(id))).toEqual([]);
    failed(await call("search", { query: "something else", limit: 3, kinds: ["notes"], cursor: first.nextCursor }), /BAD_ARGUMENT: cursor belongs to a different search/);
    failed(await call("search", { query: "x", cursor: "not-a-cursor" }), /BAD_ARGUMENT: cursor is not one this server gave out/);
  });

  it("filters by kind, path glob, exclusion and language", async () => {
    const only = async (args: Record<string, unknown>) => structured<{ hits: Array<{ path: string; kind: string; language: string }> }>(await call("search", { query: "session token login", limit: 20, ...args })).hits;
    expect((await only({ kinds: ["notes"] })).every((h) => h.kind === "notes")).toBe(true);
    expect((await only({ paths: ["src/**"] })).every((h) => h.path.startsWith("src/"))).toBe(true);
    expect((await only({ exclude: ["notes/**"] })).some((h) => h.path.startsWith("notes/"))).toBe(false);
    const ts = await only({ languages: ["ts"] });
    expect(ts.map((h) => h.path)).toContain("src/auth.ts");
    expect(ts.every((h) => h.language === "ts")).toBe(true);
  });
});

describe("loupe mcp: read, similar, explain", () => {
  it("reads a hit's lines, numbered in the text mirror, and a window around a line", async () => {
    const r = await call("read", { path: "src/retry.py", startLine: 5, endLine: 13 });
    const s = structured(r);
    expect(s).toMatchObject({ path: "src/retry.py", root: ws, startLine: 5, endLine: 13, totalLines: expect.any(Number) });
    expect(s.text.split("\n")[0]).toMatch(/^def retry_with_backoff/);
    expect(text(r)).toMatch(/^ 5 {2}def retry_with_backoff/m);
    expect(s.nextStartLine).toBe(14);
    const around = structured(await call("read", { path: join(ws, "src/retry.py"), line: 3 }));
    expect(around).toMatchObject({ startLine: 1, endLine: s.totalLines, nextStartLine: null });
  });

  it("refuses paths outside the root: .., absolute, and a symbolic link out", async () => {
    for (const path of ["../../../../etc/passwd", "/etc/passwd", "etc-link/passwd", "src/../../../etc/hostname"]) {
      failed(await call("read", { path }), /^OUTSIDE_ROOTS: .* is outside the workspace roots; only files under them can be read/);
    }
    failed(await call("read", { path: "src/missing.py" }), /^NOT_FOUND: src\/missing\.py does not exist/);
    failed(await call("similar", { path: "../../../../etc/passwd" }), /^OUTSIDE_ROOTS/);
    failed(await call("explain", { query: "users", path: "/etc/passwd", line: 1 }), /^OUTSIDE_ROOTS/);
  });

  it("finds chunks similar to a passage, leaving the passage out", async () => {
    const s = structured<{ passage: string; hits: Array<{ path: string; startLine: number; endLine: number }> }>(await call("similar", { path: "src/retry.py", startLine: 5, endLine: 13, limit: 5 }));
    expect(s.passage).toBe("src/retry.py:5-13");
    expect(s.hits.length).toBeGreaterThan(0);
    expect(s.hits.some((h) => h.path === "src/retry.py" && h.startLine <= 13 && h.endLine >= 5)).toBe(false);
  });

  it("explains a hit: shared concepts with labels and the query words found", async () => {
    const r = await call("explain", { query: "retry with exponential backoff", path: "src/retry.py", line: 6 });
    const s = structured(r);
    expect(s.hit).toMatchObject({ path: "src/retry.py", symbol: "retry_with_backoff" });
    expect(s.latents.length).toBeGreaterThan(0);
    expect(s.latents[0]).toEqual({ id: expect.any(Number), label: expect.any(String), weight: expect.any(Number), queryWeight: expect.any(Number), chunkWeight: expect.any(Number) });
    expect(s.lexical.map((t: { term: string }) => t.term)).toContain("retry");
    expect(s.lexicalScore).toBeGreaterThan(0);
    expect(text(r)).toMatch(/words: .*retry/);
  });
});

describe("loupe mcp: bad arguments", () => {
  it.each([
    ["search", {}, /query/],
    ["search", { query: "" }, /query/],
    ["search", { query: "x", limit: 0 }, /limit/],
    ["search", { query: "x", limit: "ten" }, /limit/],
    ["search", { query: "x", mode: "dense" }, /mode/],
    ["search", { query: "x", kinds: ["binary"] }, /kinds/],
    ["search", { query: "x", limt: 3 }, /Unrecognized key.*limt/],
    ["search", { query: "x", roots: ["/tmp"] }, /BAD_ARGUMENT: root "\/tmp" is not one of this server's workspace roots/],
    ["read", { path: "src/retry.py", startLine: 9, endLine: 3 }, /BAD_ARGUMENT: endLine \(3\) is before startLine \(9\)/],
    ["read", { path: "src/retry.py", startLine: 9999 }, /BAD_ARGUMENT: startLine must be/],
    ["explain", { query: "x", path: "src/retry.py" }, /line/],
    ["explain", { query: "x", path: "src/retry.py", line: 4 }, /NOT_FOUND: no chunk of src\/retry\.py covers line 4/],
    ["status", { waitSeconds: 9999 }, /waitSeconds/],
    ["nonexistent", {}, /Tool nonexistent not found/],
  ] as const)("%s %j is refused with isError", async (tool, args, pattern) => {
    failed(await call(tool, args as Record<string, unknown>), pattern);
  });
});

describe("loupe mcp: a daemon killed mid-call", () => {
  it("answers that very call on a restarted daemon (every tool only reads, so the server retries once)", async () => {
    const before = structured(await call("status")).daemon.pid as number;
    // Freeze the daemon so that the call is surely in flight, then kill it.
    process.kill(before, "SIGSTOP");
    const pending = call("search", { query: "retry with exponential backoff" });
    await new Promise((r) => setTimeout(r, 500));
    process.kill(before, "SIGKILL");
    const r = await pending;
    expect(r.isError, text(r)).toBeFalsy();
    const s = structured(await call("status", { waitSeconds: 60 }));
    expect(s.daemon.pid).not.toBe(before);
    expect(s.ready).toBe(true);
    const hits = structured(await call("search", { query: "retry with exponential backoff" })).hits;
    expect(hits[0].path).toBe("src/retry.py");
  });
});

describe("loupe mcp with two roots", () => {
  let two: Client;
  let ws2: string;

  beforeAll(async () => {
    ws2 = join(tmp, "ws2");
    await mkdir(join(ws2, "lib"), { recursive: true });
    await writeFile(join(ws2, "lib", "bounds.py"), 'def clamp(value, low, high):\n    """Limit value to the closed interval [low, high]."""\n    return max(low, min(high, value))\n');
    two = new Client({ name: "loupe-e2e-two", version: "0" });
    await two.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--root", ws, "--root", ws2], env: env as Record<string, string>, stderr: "ignore" }));
  });

  afterAll(async () => {
    await two?.close();
  });

  const call2 = async (name: string, args: Record<string, unknown>) => (await two.callTool({ name, arguments: args })) as CallToolResult;

  it("searches both, names files absolutely in the text, and reads each root's relative paths", async () => {
    const s = structured(await call2("status", { waitSeconds: 60 }));
    expect(s.roots.map((r: { root: string }) => r.root).sort()).toEqual([ws, ws2].sort());
    const r = await call2("search", { query: "clamp a value between a lower and an upper bound", limit: 3 });
    expect(structured(r).hits[0]).toMatchObject({ root: ws2, path: "lib/bounds.py" });
    expect(text(r)).toContain(`1. ${join(ws2, "lib/bounds.py")}:1-3`);
    expect(structured(await call2("read", { path: "lib/bounds.py" }))).toMatchObject({ root: ws2, startLine: 1, endLine: 3 });
    expect(structured(await call2("read", { path: "src/retry.py", startLine: 1, endLine: 2 }))).toMatchObject({ root: ws });
    failed(await call2("read", { path: "src/retry.py", root: ws2 }), /^NOT_FOUND: src\/retry\.py does not exist/);
    const only = structured(await call2("search", { query: "retry with exponential backoff", roots: [ws2] }));
    expect(only.hits.every((h: { root: string }) => h.root === ws2)).toBe(true);
  });
});

describe("loupe mcp --http", () => {
  let server: ChildProcess;
  let url: URL;
  /** The access token every request must carry (`loupe mcp token` prints it). */
  let authorization: string;

  beforeAll(async () => {
    ({ server, url } = await startHttpMcp(env, ws));
    authorization = `Bearer ${(await loupe("mcp", "token")).stdout.trim()}`;
  });

  afterAll(() => {
    server?.kill();
  });

  it("serves the same tools on 127.0.0.1 (stateless Streamable HTTP)", async () => {
    const c = new Client({ name: "loupe-e2e-http", version: "0" });
    await c.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization } } }));
    expect((await c.listTools()).tools.map((t) => t.name).sort()).toEqual(["explain", "read", "search", "similar", "status"]);
    const r = (await c.callTool({ name: "search", arguments: { query: "retry with exponential backoff" } })) as CallToolResult;
    expect(structured(r).hits[0].path).toBe("src/retry.py");
    failed((await c.callTool({ name: "read", arguments: { path: "../../../../etc/passwd" } })) as CallToolResult, /^OUTSIDE_ROOTS/);
    await c.close();
  });

  it("refuses a foreign Origin or Host (DNS rebinding) and non-POST requests", async () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", authorization };
    expect((await fetch(url, { method: "POST", body, headers: { ...headers, origin: "https://evil.example" } })).status).toBe(403);
    expect((await fetch(url, { method: "POST", body, headers: { ...headers, origin: `http://localhost:${url.port}` } })).status).toBe(200);
    expect((await fetch(url, { method: "GET", headers: { authorization } })).status).toBe(405);
    const rebound = await new Promise<number>((resolve, reject) => {
      // fetch() will not send a forged Host header; node:http will.
      import("node:http").then(({ request }) => {
        const req = request({ host: "127.0.0.1", port: url.port, path: "/mcp", method: "POST", headers: { ...headers, host: "evil.example" } }, (res) => resolve(res.statusCode!));
        req.once("error", reject);
        req.end(body);
      }, reject);
    });
    expect(rebound).toBe(403);
  });
});
