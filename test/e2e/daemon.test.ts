// Tier: end-to-end. A real daemon process (started by the CLI, as a user does), its real
// chokidar watcher and on-disk index, the default model pack, and real clients on its Unix
// socket: files and folders change on disk and searches follow; two clients at once; broken
// clients; a restart that reconciles instead of re-encoding.
import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessageConnection, ExitNotification, InitializeRequest, ShutdownRequest, StreamMessageReader, StreamMessageWriter } from "vscode-languageserver-protocol/node";
import { DaemonClient, Requests } from "@loupe/protocol";
import { runLoupe } from "../support/cli.js";
import { eventually as poll } from "../support/eventually.js";

/** The daemon runs in another process: give it longer than in-process tests. */
const eventually = (check: () => Promise<void>) => poll(check, 20_000, 100);

const BIN = new URL("../../daemon/bin/loupe.js", import.meta.url).pathname;
const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;

let dir: string;
let root: string;
let env: NodeJS.ProcessEnv;
let socket: string;
const clients: DaemonClient[] = [];

const loupe = (...args: string[]) => runLoupe(env, ...args);

async function client(): Promise<DaemonClient> {
  const c = await DaemonClient.connect({ socketPath: socket, start: false, name: "e2e" });
  clients.push(c);
  return c;
}


const top = async (c: DaemonClient, query: string) => (await c.search({ query, mode: "lexical" })).hits.map((h) => h.path);

beforeAll(async () => {
  // Short paths: a Unix socket path must fit in 107 bytes.
  dir = await mkdtemp("/tmp/loupe-e2e-");
  root = join(dir, "ws");
  await cp(WORKSPACE, root, { recursive: true });
  env = { ...process.env, LOUPE_CACHE_DIR: join(dir, "cache"), LOUPE_RUNTIME_DIR: join(dir, "run") };
  delete env.LOUPE_SOCKET;
  socket = join(dir, "run", "loupe.sock");
});

afterAll(async () => {
  for (const c of clients) c.close();
  await loupe("daemon", "stop");
  await rm(dir, { recursive: true, force: true });
});

describe("the daemon", () => {
  it("starts on demand, indexes a folder with progress, and answers searches from the CLI", async () => {
    const r = await loupe("index", root);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/starting the Loupe daemon/);
    expect(r.stderr).toMatch(/indexing .*: \d+\/\d+/); // progress lines (stderr is not a TTY here)
    expect(r.stdout).toMatch(/watching · 7 files, \d+ chunks, 1 skipped/);
    const mode = (await stat(socket)).mode & 0o777;
    expect(mode).toBe(0o600);
    const s = JSON.parse((await loupe("search", "retry with exponential backoff", "--json")).stdout);
    expect(s.hits[0]).toMatchObject({ path: "src/retry.py", root, symbol: expect.stringContaining("retry_with_backoff"), kind: "code", language: "py" });
    expect(s.hits[0].concepts.length).toBeGreaterThan(0);
    const zh = JSON.parse((await loupe("search", "城市的历史", "--json")).stdout);
    expect(zh.hits[0].path).toBe("notes/读书笔记.md");
    const filtered = JSON.parse((await loupe("search", "retry", "--path", "notes/**", "--json")).stdout);
    expect(filtered.hits.every((h: { path: string }) => h.path.startsWith("notes/"))).toBe(true);
    expect(await loupe("search")).toMatchObject({ code: 2, stderr: expect.stringMatching(/needs a query/) });
  });

  it("follows creates, edits, renames, deletes and folder deletes", async () => {
    const c = await client();
    await writeFile(join(root, "notes/quokka.md"), "# Quokka\n\nThe quokka lives on Rottnest Island.\n");
    await eventually(async () => expect(await top(c, "quokka")).toEqual(["notes/quokka.md"]));
    await writeFile(join(root, "notes/quokka.md"), "# Wombat\n\nThe wombat digs burrows.\n");
    await eventually(async () => expect(await top(c, "wombat")).toEqual(["notes/quokka.md"]));
    expect(await top(c, "quokka")).toEqual(["notes/quokka.md"]); // the path still says quokka
    expect(await top(c, "rottnest")).toEqual([]);
    await rename(join(root, "notes/quokka.md"), join(root, "notes/burrows.md"));
    await eventually(async () => expect(await top(c, "wombat")).toEqual(["notes/burrows.md"]));
    await mkdir(join(root, "lib/deep"), { recursive: true });
    await writeFile(join(root, "lib/deep/sieve.py"), "def eratosthenes_sieve(limit):\n    return [n for n in range(2, limit)]\n");
    await eventually(async () => expect(await top(c, "eratosthenes_sieve")).toEqual(["lib/deep/sieve.py"]));
    await rm(join(root, "lib"), { recursive: true });
    await eventually(async () => expect(await top(c, "eratosthenes_sieve")).toEqual([]));
    await rm(join(root, "notes/burrows.md"));
    await eventually(async () => expect(await top(c, "wombat")).toEqual([]));
    const st = await c.status();
    expect(st.roots[0]).toMatchObject({ root, files: 7, pending: 0, state: "watching" });
  });

  it("serves two clients at once and survives broken ones", async () => {
    const [a, b] = await Promise.all([client(), client()]);
    const queries = ["retry", "login password", "health check", "Apfelkuchen", "meeting"];
    const results = await Promise.all(queries.flatMap((q) => [a.search({ query: q }), b.search({ query: q })]));
    for (let i = 0; i < results.length; i += 2) expect(results[i]!.hits).toEqual(results[i + 1]!.hits);
    expect((await a.status()).clients).toBeGreaterThanOrEqual(2);

    // Garbage, a half-sent message, and a client that leaves mid-request.
    for (const bytes of ["this is not json-rpc\r\n\r\n", "Content-Length: 40\r\n\r\n{\"jsonrpc\":", 'Content-Length: 7\r\n\r\n{"a":1}']) {
      const s = createConnection(socket);
      await new Promise((r) => s.once("connect", r));
      s.write(bytes);
      await new Promise((r) => setTimeout(r, 100));
      s.destroy();
    }
    const quitter = await client();
    void quitter.search({ query: "retry with backoff" }).catch(() => {});
    quitter.close();
    // Errors from handlers come back as errors, not crashes.
    await expect(a.search({ query: "" })).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
    await expect(a.read({ path: "../../../../etc/passwd" })).rejects.toMatchObject({ code: "OUTSIDE_ROOTS" });
    expect((await b.search({ query: "retry" })).hits.length).toBeGreaterThan(0);
  });

  it("serves an editor over stdio through `loupe lsp`, relayed to the same daemon", async () => {
    const child = spawn(process.execPath, [BIN, "lsp"], { env, stdio: ["pipe", "pipe", "inherit"] });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.listen();
    try {
      const init = await conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: {} });
      expect(init.serverInfo?.name).toBe("loupe");
      const st = await conn.sendRequest(Requests.status.method);
      expect((st as { roots: Array<{ root: string }> }).roots.map((r) => r.root)).toEqual([root]);
      const res = (await conn.sendRequest(Requests.search.method, { query: "health check endpoint" })) as { hits: Array<{ path: string }> };
      expect(res.hits[0]!.path).toBe("src/server.go");
      await conn.sendRequest(ShutdownRequest.type);
      await conn.sendNotification(ExitNotification.type);
    } finally {
      conn.dispose();
      child.stdin.end();
      await new Promise((r) => child.once("exit", r));
    }
    // The editor leaving (and its processId) does not stop the shared daemon.
    expect((await (await client()).status()).roots.length).toBe(1);
  });

  it("comes back after a stop with its roots, reconciling changes made while it was down", async () => {
    const before = await (await client()).status();
    expect((await loupe("daemon", "stop")).stdout).toMatch(/stopped/);
    await eventually(async () => expect((await loupe("daemon", "status")).stdout).toMatch(/not running/));
    await writeFile(join(root, "notes/offline.md"), "# Offline\n\nWritten while the narwhal daemon slept.\n");
    await rm(join(root, "scripts/deploy.sh"));
    expect((await loupe("daemon", "start")).code).toBe(0);
    const c = await client();
    await eventually(async () => expect(await top(c, "narwhal")).toEqual(["notes/offline.md"]));
    await eventually(async () => expect((await c.status()).roots[0]!.state).toBe("watching"));
    const after = await c.status();
    expect(after.pid).not.toBe(before.pid);
    expect(after.roots[0]).toMatchObject({ root, files: 7 });
    expect(await top(c, "deploy")).not.toContain("scripts/deploy.sh");
    const log = await readFile(join(dir, "cache", "daemon.log"), "utf8");
    // The restart re-read only what changed: one new file and one removed.
    expect(log).toMatch(/2 changed or removed files to index \(6 unchanged, 1 skipped\)/);
  });
});
