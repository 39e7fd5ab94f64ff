// Tier: fault. Processes racing for the same files: two daemons started at once on one socket
// (after the last one was killed, so a stale lock is taken over in the race), clients that each
// start the daemon at once, two daemons on different sockets over one cache folder, and two index
// writers on one folder. Exactly one wins each time; the loser says why and damages nothing.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonClient } from "@loupe/protocol";
import { FsDirectory } from "../../daemon/src/index/directory.js";
import { Index } from "../../daemon/src/index/index.js";
import { report } from "../support/fault-report.js";

const DAEMON = new URL("../support/fault-daemon.mjs", import.meta.url).pathname;
const WRITER = new URL("../support/crash-writer.mjs", import.meta.url).pathname;
const BIN = new URL("../../daemon/bin/loupe.js", import.meta.url).pathname;

let dir: string;
const children: ChildProcess[] = [];

interface Outcome {
  child: ChildProcess;
  result: "ready" | { code: number; stderr: string };
}

/** Starts a fault daemon; resolves when it listens or has exited. */
function daemon(cache: string, socket: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DAEMON, cache, socket], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    child.stdout!.once("data", () => resolve({ child, result: "ready" }));
    child.once("exit", (code) => resolve({ child, result: { code: code ?? -1, stderr } }));
  });
}

function kill(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once("exit", () => resolve());
    c.kill("SIGKILL");
  });
}

beforeAll(async () => {
  dir = await mkdtemp("/tmp/loupe-race-");
});

afterAll(async () => {
  for (const c of children) await kill(c);
  await rm(dir, { recursive: true, force: true });
});

describe("races", () => {
  it("two daemons started at once on one socket: one serves, the other says another daemon serves it (10 rounds, each after a kill -9)", async () => {
    const cache = join(dir, "c1");
    const socket = join(dir, "r1", "loupe.sock");
    await mkdir(join(dir, "r1"), { mode: 0o700 });
    for (let round = 0; round < 10; round++) {
      const both = await Promise.all([daemon(cache, socket), daemon(cache, socket)]);
      const winners = both.filter((o) => o.result === "ready");
      expect(winners.length, `round ${round}: ${JSON.stringify(both.map((o) => o.result))}`).toBe(1);
      const loser = both.find((o) => o.result !== "ready")!.result as { code: number; stderr: string };
      expect(loser.code).toBe(3);
      expect(loser.stderr).toMatch(/another Loupe daemon \(pid \d+\) already serves/);
      // The loser touched neither the socket nor the lock: the winner still answers.
      const c = await DaemonClient.connect({ socketPath: socket, start: false });
      expect((await c.status()).pid).toBe(winners[0]!.child.pid);
      c.close();
      await kill(winners[0]!.child); // leaves a stale lock for the next round's race
    }
  });

  it("clients that each start the daemon at once all end up on one daemon", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOUPE_CACHE_DIR: join(dir, "c2"), LOUPE_RUNTIME_DIR: join(dir, "r2") };
    const run = () => promisify(execFile)(process.execPath, [BIN, "status", "--json"], { env }).then((r) => JSON.parse(r.stdout) as { pid: number });
    try {
      const answers = await Promise.all([run(), run(), run()]);
      expect(new Set(answers.map((a) => a.pid)).size).toBe(1);
      report({ test: "three clients starting the daemon at once", daemons: new Set(answers.map((a) => a.pid)).size });
    } finally {
      await promisify(execFile)(process.execPath, [BIN, "daemon", "stop"], { env }).catch(() => {});
    }
  });

  it("a second daemon on another socket over the same cache reports the roots it cannot open and leaves the first one's index alone", async () => {
    const cache = join(dir, "c3");
    const ws = join(dir, "ws3");
    await mkdir(ws);
    for (let i = 0; i < 5; i++) await writeFile(join(ws, `n${i}.md`), `# Note ${i}\n\nharbour light number ${i}\n`);
    await mkdir(join(dir, "r3a"), { mode: 0o700 });
    await mkdir(join(dir, "r3b"), { mode: 0o700 });
    const a = await daemon(cache, join(dir, "r3a", "loupe.sock"));
    expect(a.result).toBe("ready");
    const ca = await DaemonClient.connect({ socketPath: join(dir, "r3a", "loupe.sock"), start: false });
    await ca.addRoot(ws, { wait: true });
    const before = (await ca.status()).roots[0]!;
    expect(before.files).toBe(5);

    const b = await daemon(cache, join(dir, "r3b", "loupe.sock"));
    expect(b.result).toBe("ready");
    const cb = await DaemonClient.connect({ socketPath: join(dir, "r3b", "loupe.sock"), start: false });
    const seen = (await cb.status()).roots;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ root: ws, state: "error" });
    expect(seen[0]!.lastError).toMatch(/open for writing in another process/);
    // The first daemon's index is intact and still served; the roots list still names the root.
    expect((await ca.status()).roots[0]).toMatchObject({ files: 5, chunks: before.chunks, state: "watching" });
    expect((await ca.search({ query: "harbour light", mode: "lexical" })).hits.length).toBe(5);
    expect(JSON.parse(await readFile(join(cache, "roots.json"), "utf8")).roots).toEqual([ws]);
    ca.close();
    cb.close();
    await kill(a.child);
    await kill(b.child);
  });

  it("a second index writer in another process is refused while the first holds the folder", async () => {
    const folder = join(dir, "idx");
    const first = await Index.open(await FsDirectory.open(folder), { pack: "sha256:crash", analyzer: 1 });
    const writer = spawn(process.execPath, [WRITER, folder], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    writer.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => writer.once("exit", r));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/INDEX_LOCKED|open for writing in another process \(pid \d+\)/);
    await first.close();
  });
});
