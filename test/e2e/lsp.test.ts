// Tier: e2e. `loupe lsp` as an editor runs it: the built binary spawned over stdio, driven by a
// generic LSP client (vscode-jsonrpc's message connection, as vscode-languageclient uses it),
// with a real daemon started on demand and the default pack. Checks the handshake, indexing
// reported as work-done progress, `workspace/symbol` answered by Loupe's search, Loupe's own
// requests scoped to the editor's folder, error codes, and that the daemon outlives the editor.
import { spawn, type ChildProcess } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  createMessageConnection, ExitNotification, InitializedNotification, InitializeRequest, ResponseError, ShutdownRequest, StreamMessageReader,
  StreamMessageWriter, WorkDoneProgressCreateRequest, WorkspaceSymbolRequest, type MessageConnection, type SymbolInformation,
} from "vscode-languageserver-protocol/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonClient, type SearchResult, type StatusResult } from "@loupe/protocol";
import { BIN, runLoupe } from "../support/cli.js";
import { eventually } from "../support/eventually.js";

const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;

let tmp: string;
let ws: string;
let env: NodeJS.ProcessEnv;
let editor: ChildProcess;
let conn: MessageConnection;
const created: Array<string | number> = [];
const progress: Array<{ token: string | number; value: { kind: string; title?: string; message?: string; percentage?: number } }> = [];
const logs: string[] = [];
let editorExit: Promise<number | null>;

beforeAll(async () => {
  tmp = await mkdtemp("/tmp/loupe-lsp-");
  ws = join(tmp, "ws");
  await cp(WORKSPACE, ws, { recursive: true });
  env = { ...process.env, LOUPE_CACHE_DIR: join(tmp, "c"), LOUPE_RUNTIME_DIR: join(tmp, "r") };
  editor = spawn(process.execPath, [BIN, "lsp"], { env, stdio: ["pipe", "pipe", "pipe"] });
  editorExit = new Promise((r) => editor.once("exit", (code) => r(code)));
  conn = createMessageConnection(new StreamMessageReader(editor.stdout!), new StreamMessageWriter(editor.stdin!));
  conn.onRequest(WorkDoneProgressCreateRequest.method, (p: { token: string | number }) => {
    created.push(p.token);
    return null;
  });
  conn.onUnhandledProgress((p) => progress.push(p as (typeof progress)[number]));
  conn.onNotification("window/logMessage", (p: { message: string }) => void logs.push(p.message));
  conn.onNotification("window/showMessage", (p: { message: string }) => void logs.push(`shown: ${p.message}`));
  conn.listen();
});

afterAll(async () => {
  conn?.dispose();
  editor?.kill();
  await runLoupe(env, "daemon", "stop").catch(() => {});
  await rm(tmp, { recursive: true, force: true });
});

describe("loupe lsp with a generic LSP client", () => {
  it("initializes, starts the daemon, and reports the folder's indexing as work-done progress", async () => {
    const init = await conn.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: null,
      workspaceFolders: [{ uri: pathToFileURL(ws).href, name: "ws" }],
      capabilities: { window: { workDoneProgress: true } },
    });
    expect(init.capabilities.workspaceSymbolProvider).toBe(true);
    expect(init.serverInfo).toMatchObject({ name: "loupe" });
    await conn.sendNotification(InitializedNotification.type, {});
    await eventually(async () => expect(progress.some((p) => p.value.kind === "end")).toBe(true), 120_000);
    expect(created).toHaveLength(1);
    const mine = progress.filter((p) => p.token === created[0]);
    expect(mine[0]!.value).toMatchObject({ kind: "begin", title: `Loupe: indexing ${ws}` });
    expect(mine.at(-1)!.value.kind).toBe("end");
    expect(logs.join("\n")).toMatch(/starting the Loupe daemon/);
  });

  it("answers workspace/symbol with Loupe's search: the answering lines of the right file", async () => {
    const symbols = (await conn.sendRequest(WorkspaceSymbolRequest.type, { query: "call a function again, waiting longer after each failure" })) as SymbolInformation[];
    expect(symbols.length).toBeGreaterThan(0);
    const top = symbols[0]!;
    expect(top.location.uri).toBe(pathToFileURL(join(ws, "src/retry.py")).href);
    expect(top).toMatchObject({ name: "retry_with_backoff", containerName: expect.stringMatching(/^src\/retry\.py:\d+$/) });
    expect(top.location.range.start.line).toBeGreaterThanOrEqual(3);
    expect(top.location.range.start.line).toBeLessThan(top.location.range.end.line);
    expect(await conn.sendRequest(WorkspaceSymbolRequest.type, { query: "   " })).toEqual([]);
  });

  it("relays Loupe's own requests, scoped to the editor's folder, with the daemon's error codes", async () => {
    const status = (await conn.sendRequest("loupe/status")) as StatusResult;
    expect(status.roots.map((r) => [r.root, r.lifetime, r.state])).toEqual([[ws, "session", "watching"]]);
    const r = (await conn.sendRequest("loupe/search", { query: "roll the container out to staging", k: 3 })) as SearchResult;
    expect(r.hits[0]).toMatchObject({ path: "scripts/deploy.sh", root: ws });
    const e = await conn.sendRequest("loupe/search", { query: "deploy", k: 0 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ResponseError);
    expect(e).toMatchObject({ message: "k must be an integer from 1 to 100, got 0", data: { code: "BAD_ARGUMENT" } });
    const none = await conn.sendRequest("loupe/search", null).catch((x: unknown) => x);
    expect(none).toMatchObject({ message: "search needs its parameters as an object, got null", data: { code: "BAD_ARGUMENT" } });
  });

  it("restarts a daemon that died, stops after the third loss in a row and says why, and tries again on reindex", async () => {
    const gone = (pid: number) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    const pids: number[] = [];
    for (let i = 0; i < 3; i++) {
      // Each request after a kill starts a new daemon (the first one is already running).
      const pid = ((await conn.sendRequest("loupe/status")) as StatusResult).pid;
      pids.push(pid);
      process.kill(pid, "SIGKILL");
      await eventually(async () => expect(gone(pid)).toBe(true), 10_000);
    }
    expect(new Set(pids).size).toBe(3);
    const refused = await conn.sendRequest("loupe/status").catch((x: unknown) => x);
    expect(refused).toMatchObject({ message: expect.stringMatching(/stopped or failed to start 3 times in 3 minutes, so it is not started again/), data: { code: "DAEMON_UNAVAILABLE" } });
    await eventually(async () => expect(logs.some((l) => /^shown: Loupe: the Loupe daemon stopped or failed to start 3 times/.test(l))).toBe(true));
    // Asked explicitly, it starts one again, and the folder is served as before.
    const s = (await conn.sendRequest("loupe/reindex")) as StatusResult;
    expect(pids).not.toContain(s.pid);
    await eventually(async () => {
      const now = (await conn.sendRequest("loupe/status")) as StatusResult;
      expect(now.roots.map((r) => [r.root, r.state])).toEqual([[ws, "watching"]]);
    }, 60_000, 200);
  });

  it("exits on shutdown and exit, and the daemon stays, with the editor's session root closed", async () => {
    const pid = ((await conn.sendRequest("loupe/status")) as StatusResult).pid;
    await conn.sendRequest(ShutdownRequest.type);
    await conn.sendNotification(ExitNotification.type);
    expect(await editorExit).toBe(0);
    const client = await DaemonClient.connect({ socketPath: join(tmp, "r", "loupe.sock"), start: false, name: "e2e-lsp" });
    try {
      await eventually(async () => {
        const s = await client.status();
        expect(s.pid).toBe(pid);
        expect(s.roots).toEqual([]);
      }, 10_000);
    } finally {
      client.close();
    }
  });
});
