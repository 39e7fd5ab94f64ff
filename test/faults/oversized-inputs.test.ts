// Tier: fault. 1 MB inputs at every entry a client can reach, against a real daemon process
// (started with the CLI, the default model pack) indexing a copy of fixtures/workspace: the
// daemon's socket through DaemonClient (megabyte queries, paths and globs, 10,000 globs, a broken
// glob), raw socket frames announcing 64 MiB or with a header block that never ends, the CLI with
// a 1 MB query in ten arguments, and `loupe mcp` over stdio and over HTTP. Each input is refused
// within 1 s with a short message (never echoed back), the daemon's peak RSS (VmHWM) stays under
// 1 GiB through all of them, and the daemon still answers a normal search afterwards. Times and
// RSS go to $LOUPE_FAULTS_REPORT when it is set.
import { cp, readFile } from "node:fs/promises";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoupeError, type DaemonClient } from "@loupe/protocol";
import { startHttpMcp } from "../support/cli.js";
import { alive, BIN, MiB, peakRss, reportNumbers, round1, startFaultDaemon, timed, WORKSPACE, type FaultDaemon } from "../support/faults.js";

/** Every oversized input is answered within this (generous: a fault suite, not a benchmark). */
const ANSWER_MS = 1_000;
/** Longest refusal message: it names the bound, it never echoes the input. */
const MESSAGE_CHARS = 500;
const GiB = 1 << 30;

/** About 1 MiB of words (1,048,576 characters). */
const MEGA_QUERY = "lighthouse ".repeat(Math.ceil(MiB / 11)).slice(0, MiB);
const MEGA_PATH = "a/".repeat(MiB / 2);

let d: FaultDaemon;
let ws: string;
let pid: number;
let rssBefore: number;
/** Answer time of every oversized input, by name. */
const times: Record<string, number> = {};
/** Peak RSS of the `loupe mcp` server processes, by transport. */
const mcpRss: Record<string, number> = {};

const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");

beforeAll(async () => {
  d = await startFaultDaemon();
  ws = join(d.dir, "ws");
  await cp(WORKSPACE, ws, { recursive: true });
  const r = await d.loupe("index", ws);
  expect(r.code, r.stderr).toBe(0);
  pid = (await d.status()).pid;
  rssBefore = await peakRss(pid);
});

afterAll(async () => {
  await d?.close();
});

describe("1 MB inputs at each entry; daemon RSS under 1 GB through every oversized input, each answered within 1 s", () => {
  it("the socket (DaemonClient): megabyte queries, paths and globs, 10,000 globs and a broken glob are BAD_ARGUMENT with a short message", async () => {
    const c: DaemonClient = await d.client("fault-oversized");
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ["socket search 1 MiB query", () => c.search({ query: MEGA_QUERY }), /query is 1,048,576 characters; the limit is 4,096/],
      ["socket explain 1 MiB query", () => c.explain({ query: MEGA_QUERY, path: "src/retry.py", line: 1 }), /query is 1,048,576 characters/],
      ["socket read 1 MiB path", () => c.read({ path: MEGA_PATH }), /path is 1,048,576 characters; the limit is 4,096/],
      ["socket similar 1 MiB path", () => c.similar({ path: MEGA_PATH }), /path is 1,048,576 characters; the limit is 4,096/],
      ["socket search 10,000 path globs", () => c.search({ query: "retry", paths: Array.from({ length: 10_000 }, (_, i) => `src/${i}/**/*.ts`) }), /paths has 10,000 entries; the limit is 64/],
      ["socket search one 1 MiB glob", () => c.search({ query: "retry", paths: [`${MEGA_PATH}*.ts`] }), /an entry of paths is [\d,]+ characters; the limit is 4,096/],
      ["socket search 1 MiB exclude glob", () => c.search({ query: "retry", exclude: [MEGA_PATH] }), /an entry of exclude is [\d,]+ characters; the limit is 4,096/],
      ["socket search 10,000 roots", () => c.search({ query: "retry", roots: Array.from({ length: 10_000 }, (_, i) => `/r${i}`) }), /roots has 10,000 entries; the limit is 64/],
      ["socket read 1 MiB root", () => c.read({ path: "src/retry.py", root: MEGA_PATH }), /root is 1,048,576 characters; the limit is 4,096/],
      ["socket addRoot 1 MiB root", () => c.addRoot(MEGA_PATH), /root is 1,048,576 characters; the limit is 4,096/],
      ["socket search invalid glob", () => c.search({ query: "retry", paths: ["[invalid"] }), /paths: "\[invalid" is not a valid glob/],
    ];
    for (const [name, call, message] of cases) {
      const t = await timed(call);
      times[name] = t.ms;
      expect(t.error, name).toBeInstanceOf(LoupeError);
      const e = t.error as LoupeError;
      expect(e.code, `${name}: ${e.message}`).toBe("BAD_ARGUMENT");
      expect(e.message, name).toMatch(message);
      expect(e.message.length, name).toBeLessThan(MESSAGE_CHARS);
      expect(t.ms, name).toBeLessThan(ANSWER_MS);
    }
    // The same connection goes on serving.
    expect((await c.search({ query: "retry with exponential backoff" })).hits[0]!.path).toBe("src/retry.py");
  });

  /** Connects a raw socket; resolves with it and a promise of its close (ms after `since()`). */
  async function raw(): Promise<{ s: Socket; closed: Promise<void> }> {
    const s = createConnection(d.socket);
    s.on("error", () => {}); // EPIPE / ECONNRESET once the daemon has closed it: expected
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    await new Promise((r) => s.once("connect", r));
    return { s, closed };
  }

  /** Writes `pieces` one by one (waiting for each to drain) until the socket closes; the bytes accepted. */
  async function writeUntilClosed(s: Socket, pieces: Iterable<Buffer | string>): Promise<number> {
    let accepted = 0;
    for (const p of pieces) {
      if (s.destroyed || s.closed) break;
      const ok = s.write(p);
      accepted += typeof p === "string" ? Buffer.byteLength(p) : p.length;
      if (!ok) await new Promise<void>((r) => {
        const done = () => (s.off("drain", done), s.off("close", done), r());
        s.once("drain", done);
        s.once("close", done);
      });
    }
    return accepted;
  }

  const within = <T>(p: Promise<T>, ms: number, what: string) =>
    Promise.race([p, new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`${what}: not within ${ms} ms`)), ms))]);

  it("raw socket: a message announcing 64 MiB is closed without being buffered, and other clients go on", async () => {
    const other = await d.client("fault-bystander");
    const { s, closed } = await raw();
    const started = performance.now();
    // The header, then 4 MiB of the announced 64 MiB body in 64 KiB pieces.
    const body = Buffer.alloc(64 << 10, "x");
    const sent = await writeUntilClosed(s, [`Content-Length: ${64 * MiB}\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"loupe/search","params":{"query":"`, ...Array.from({ length: 64 }, () => body)]);
    await within(closed, ANSWER_MS, "closing a 64 MiB message");
    times["raw socket 64 MiB Content-Length"] = performance.now() - started;
    expect(sent).toBeLessThan(64 * MiB);
    expect(times["raw socket 64 MiB Content-Length"]).toBeLessThan(ANSWER_MS);
    // The client that was connected all along, and a new one, are served.
    expect((await other.status()).pid).toBe(pid);
    expect((await (await d.client("fault-after-64")).search({ query: "retry", mode: "lexical" })).hits.length).toBeGreaterThan(0);
  });

  it("raw socket: a header block with no end (8 KiB+ of header bytes, at once or in pieces) is closed", async () => {
    for (const [name, pieces] of [
      ["raw socket endless header (one write)", [`Content-Length: 10\r\nX-Pad: ${"a".repeat(9_000)}`]],
      ["raw socket endless header (1 KiB pieces)", ["Content-Length: 10\r\n", ...Array.from({ length: 12 }, () => `X-Pad: ${"b".repeat(1_000)}\r\n`)]],
    ] as Array<[string, string[]]>) {
      const { s, closed } = await raw();
      const started = performance.now();
      for (const p of pieces) {
        if (s.destroyed || s.closed) break;
        s.write(p);
        await new Promise((r) => setTimeout(r, 5)); // separate reads on the daemon's side
      }
      await within(closed, ANSWER_MS, name);
      times[name] = performance.now() - started;
      expect(times[name], name).toBeLessThan(ANSWER_MS);
    }
    expect((await (await d.client("fault-after-header")).status()).pid).toBe(pid);
    // Closed by the daemon's frame guard, for the reasons these inputs give.
    const log = await readFile(join(d.dir, "c", "daemon.log"), "utf8");
    expect(log).toMatch(/closing a client connection: a message of 67108864 bytes is over the limit of 4194304/);
    expect(log.match(/closing a client connection: a message header is over 8192 bytes/g)).toHaveLength(2);
  });

  it("the CLI: a 1 MB query in ten 100 KB arguments exits 2 or 1 with a clear short message", async () => {
    const parts = Array.from({ length: 10 }, (_, i) => `${i}${"harbour ".repeat(12_500)}`.slice(0, 100_000));
    const r = await d.loupe("search", ...parts);
    times["cli search 1 MB query (10 args)"] = r.ms;
    expect([1, 2], r.stderr).toContain(r.code);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^loupe: query is 1,000,009 characters; the limit is 4,096/);
    expect(r.stderr.length).toBeLessThan(MESSAGE_CHARS);
    expect(r.ms).toBeLessThan(ANSWER_MS);
  });

  /** The search tool with a 1 MiB query: refused quickly, briefly, and the server goes on. */
  async function refusesMegaQuery(client: Client, name: string): Promise<void> {
    const t = await timed(() => client.callTool({ name: "search", arguments: { query: MEGA_QUERY } }) as Promise<CallToolResult>);
    times[name] = t.ms;
    // An isError result, or a protocol error: either way short, and not the query again.
    const message = t.error ? (t.error as Error).message : text(t.value!);
    if (!t.error) expect(t.value!.isError, message).toBe(true);
    expect(message).toMatch(/query is 1,048,576 characters; the limit is 4,096/);
    expect(message.length).toBeLessThan(MESSAGE_CHARS);
    expect(t.ms).toBeLessThan(ANSWER_MS);
    const ok = (await client.callTool({ name: "search", arguments: { query: "retry with exponential backoff" } })) as CallToolResult;
    expect(ok.isError, text(ok)).toBeFalsy();
  }

  it("MCP over stdio: the search tool with a 1 MB query is refused quickly", async () => {
    const client = new Client({ name: "fault-mcp-stdio", version: "0" });
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--root", ws], env: d.env as Record<string, string>, stderr: "ignore" });
    await client.connect(transport);
    try {
      await refusesMegaQuery(client, "mcp stdio search 1 MiB query");
      if (transport.pid) mcpRss.stdio = await peakRss(transport.pid);
    } finally {
      await client.close();
    }
  });

  it("MCP over HTTP: the search tool with a 1 MB query is refused quickly", async () => {
    const { server, url } = await startHttpMcp(d.env, ws);
    try {
      const token = await d.loupe("mcp", "token");
      expect(token.code, token.stderr).toBe(0);
      const client = new Client({ name: "fault-mcp-http", version: "0" });
      await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token.stdout.trim()}` } } }));
      try {
        await refusesMegaQuery(client, "mcp http search 1 MiB query");
        if (server.pid) mcpRss.http = await peakRss(server.pid);
      } finally {
        await client.close();
      }
    } finally {
      server.kill();
    }
  });

  it("afterwards: the daemon's peak RSS is under 1 GiB and it still answers a normal search", async () => {
    expect(alive(pid)).toBe(true);
    const hwm = await peakRss(pid);
    const c = await d.client("fault-final");
    const r = await c.search({ query: "retry with exponential backoff" });
    expect(r.hits[0]!.path).toBe("src/retry.py");
    expect((await c.status()).pid).toBe(pid);
    const numbers = {
      daemonVmHwmMiB: round1(hwm / MiB),
      daemonVmHwmBeforeMiB: round1(rssBefore / MiB),
      inputs: Object.keys(times).length,
      maxAnswerMs: round1(Math.max(...Object.values(times))),
      answerMs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, round1(v)])),
      mcpServerVmHwmMiB: Object.fromEntries(Object.entries(mcpRss).map(([k, v]) => [k, round1(v / MiB)])),
    };
    console.log(`oversized-inputs: ${JSON.stringify(numbers)}`);
    await reportNumbers("oversized-inputs", numbers);
    expect(hwm).toBeLessThan(GiB);
  });
});
