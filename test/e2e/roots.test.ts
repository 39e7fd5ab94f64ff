// Tier: end-to-end. The roots' lifecycle through a real daemon process (started by the CLI, as a
// user does), the default model pack, and real clients: roots survive a kill -9 of the daemon
// between any two commands, a remembered root that cannot be reopened is kept and shown,
// `remove-root` refuses unknown folders and deletes the index, session roots (an MCP server's
// --root) end with their session, `search --root` never starts indexing, and an MCP call
// interrupted by the daemon's death is answered on a restarted daemon.
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonClient, type StatusResult } from "@loupe/protocol";
import { runLoupe } from "../support/cli.js";
import { eventually as poll } from "../support/eventually.js";

const eventually = (check: () => Promise<void>) => poll(check, 30_000, 100);
const BIN = new URL("../../daemon/bin/loupe.js", import.meta.url).pathname;
const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;

let dir: string;
let env: NodeJS.ProcessEnv;
let socket: string;
const folders: string[] = [];

const loupe = (...args: string[]) => runLoupe(env, ...args);

async function status(): Promise<StatusResult> {
  const r = await loupe("status", "--json");
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusResult;
}

async function saved(): Promise<string[]> {
  return (JSON.parse(await readFile(join(dir, "cache", "roots.json"), "utf8")) as { roots: string[] }).roots;
}

/** SIGKILLs the running daemon and waits until it is gone. */
async function killDaemon(): Promise<void> {
  const pid = (await status()).pid;
  process.kill(pid, "SIGKILL");
  await eventually(async () => expect(() => process.kill(pid, 0)).toThrow());
}

/** A small folder of notes. */
async function folder(name: string): Promise<string> {
  const f = join(dir, name);
  await mkdir(f, { recursive: true });
  await writeFile(join(f, "note.md"), `# ${name}\n\nThe ${name} folder keeps a note about lighthouse keepers.\n`);
  folders.push(f);
  return f;
}

beforeAll(async () => {
  dir = await mkdtemp("/tmp/loupe-roots-");
  env = { ...process.env, LOUPE_CACHE_DIR: join(dir, "cache"), LOUPE_RUNTIME_DIR: join(dir, "run") };
  delete env.LOUPE_SOCKET;
  socket = join(dir, "run", "loupe.sock");
});

afterAll(async () => {
  await loupe("daemon", "stop");
  await rm(dir, { recursive: true, force: true });
});

describe("roots", () => {
  it("survive kill -9 between commands: index A; index B; kill; index C keeps A, B and C", async () => {
    const [a, b, c] = [await folder("a"), await folder("b"), await folder("c")];
    expect((await loupe("index", a)).code).toBe(0);
    expect((await loupe("index", b)).code).toBe(0);
    await killDaemon();
    // The restarted daemon answers `index C` while it is still reopening A and B.
    expect((await loupe("index", c)).code).toBe(0);
    expect((await saved()).sort()).toEqual([a, b, c].sort());
    await eventually(async () => expect((await status()).roots.map((r) => r.root).sort()).toEqual([a, b, c].sort()));
    for (const r of (await status()).roots) expect(r.lifetime).toBe("saved");
  });

  it("keeps a remembered root that cannot be reopened, shows why, and forgets it only on remove-root", async () => {
    const gone = await folder("gone");
    expect((await loupe("index", gone)).code).toBe(0);
    await loupe("daemon", "stop");
    await rm(gone, { recursive: true });
    // Listed from the first answer of the restarted daemon (while it reopens its roots), then as an error.
    expect((await status()).roots.find((r) => r.root === gone)).toMatchObject({ lifetime: "saved" });
    await eventually(async () => {
      const entry = (await status()).roots.find((r) => r.root === gone);
      expect(entry).toMatchObject({ state: "error", lifetime: "saved" });
      expect(entry!.lastError).toMatch(/could not reopen.*remove-root/s);
    });
    // Another add saves the whole list: the unopened root is still in it.
    expect((await loupe("index", folders[0]!)).code).toBe(0);
    expect(await saved()).toContain(gone);
    const r = await loupe("remove-root", gone);
    expect(r.code, r.stderr).toBe(0);
    expect(await saved()).not.toContain(gone);
  });

  it("remove-root refuses a folder that is not a root, and deletes the index of one that is", async () => {
    const notRoot = await loupe("remove-root", join(dir, "never-added"));
    expect(notRoot.code).toBe(1);
    expect(notRoot.stderr).toMatch(/is not a workspace root/);
    const c = folders[2]!;
    const indexDir = (await status()).roots.find((r) => r.root === c)!.indexDir;
    await stat(indexDir);
    expect((await loupe("remove-root", c)).code).toBe(0);
    await expect(stat(indexDir)).rejects.toThrow(/ENOENT/);
    expect(await saved()).not.toContain(c);
  });

  it("search --root on a folder that is not a root refuses and says how to add it, without indexing it", async () => {
    const other = await folder("not-added");
    const r = await loupe("search", "lighthouse", "--root", other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a workspace root.*loupe index/s);
    expect((await status()).roots.map((x) => x.root)).not.toContain(other);
    // A root that is added narrows the search to itself.
    const a = folders[0]!;
    const hits = JSON.parse((await loupe("search", "lighthouse", "--root", a, "--json")).stdout).hits as Array<{ root: string }>;
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => h.root === a)).toBe(true);
  });

  it("session roots are served while their session lasts, never saved, and closed when it ends", async () => {
    const s1 = await folder("session");
    const one = await DaemonClient.connect({ socketPath: socket, start: false, name: "e2e-session-1" });
    const two = await DaemonClient.connect({ socketPath: socket, start: false, name: "e2e-session-2" });
    expect((await one.addRoot(s1, { session: true })).lifetime).toBe("session");
    await two.addRoot(s1, { session: true });
    expect(await saved()).not.toContain(s1);
    one.close();
    // The other session still holds it.
    await new Promise((r) => setTimeout(r, 300));
    expect((await status()).roots.map((r) => r.root)).toContain(s1);
    two.close();
    await eventually(async () => expect((await status()).roots.map((r) => r.root)).not.toContain(s1));
    expect(await saved()).not.toContain(s1);
  });

  it("a session can let go of one of its roots (an editor closed that folder) and keeps the others", async () => {
    const [x, y] = [await folder("release-x"), await folder("release-y")];
    const one = await DaemonClient.connect({ socketPath: socket, start: false, name: "e2e-session-release" });
    try {
      await one.addRoot(x, { session: true });
      await one.addRoot(y, { session: true });
      const after = await one.releaseRoot(x);
      expect(after.roots.map((r) => r.root)).not.toContain(x);
      expect(after.roots.map((r) => r.root)).toContain(y);
      // A saved root is not a session's to let go of: it stays.
      const a = folders[0]!;
      expect((await one.releaseRoot(a)).roots.map((r) => r.root)).toContain(a);
      await expect(one.releaseRoot(join(x, "nowhere"))).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      one.close();
    }
  });

  it("a saved root that a session also added stays when the session ends", async () => {
    const a = folders[0]!;
    const one = await DaemonClient.connect({ socketPath: socket, start: false, name: "e2e-session-3" });
    expect((await one.addRoot(a, { session: true })).lifetime).toBe("saved");
    one.close();
    await new Promise((r) => setTimeout(r, 300));
    expect((await status()).roots.map((r) => r.root)).toContain(a);
  });

  it("an MCP call during which the daemon is killed is answered on a restarted daemon", async () => {
    const ws = join(dir, "mcp-ws");
    await cp(WORKSPACE, ws, { recursive: true });
    const mcp = new Client({ name: "loupe-roots-e2e", version: "0" });
    await mcp.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--root", ws], env: env as Record<string, string>, stderr: "ignore" }));
    try {
      const search = async () => (await mcp.callTool({ name: "search", arguments: { query: "retry with exponential backoff" } })) as CallToolResult;
      await eventually(async () => {
        const r = await search();
        expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
        expect((r.structuredContent as { hits: unknown[] }).hits.length).toBeGreaterThan(0);
      });
      expect((await status()).roots.find((r) => r.root === ws)?.lifetime).toBe("session");
      // The agent sees its roots, and that they are the session's.
      const st = (await mcp.callTool({ name: "status", arguments: {} })) as CallToolResult;
      expect((st.structuredContent as { roots: Array<{ root: string; lifetime: string }> }).roots).toEqual([expect.objectContaining({ root: ws, lifetime: "session" })]);
      await killDaemon();
      // The very next call works: the server reconnects (restarting the daemon) and retries.
      const r = await search();
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      expect(await saved()).not.toContain(ws);
    } finally {
      await mcp.close();
    }
    await eventually(async () => expect((await status()).roots.map((r) => r.root)).not.toContain(ws));
  });
});
