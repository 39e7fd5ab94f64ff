// Tier: fault. The real daemon (socket, lock, roots file, watcher, on-disk indexes) over the
// fake encoder (test/support/fault-daemon.mjs) is killed with SIGKILL at random points of
// add-root, remove-root, file changes being indexed (commits of 3 files; bulk changes of 45
// files reach the core's merge every 16 commits) and reindex. After every kill it is restarted and must hold: every root whose add was
// answered is remembered and served, every root whose removal was answered is gone, and each
// root's index equals the files on disk — every file once, with its current text and its latent
// vector (kills land between the lexical commit and the latent one too), nothing deleted or
// doubled. LOUPE_FAULT_ROUNDS sets the kills (default 60).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonClient } from "@loupe/protocol";
import { rng } from "../support/index-oracle.js";
import { report } from "../support/fault-report.js";

const DAEMON = new URL("../support/fault-daemon.mjs", import.meta.url).pathname;
const ROUNDS = Number(process.env.LOUPE_CRASH_ROUNDS ?? 60);
const FOLDERS = 4;

let dir: string;
let cache: string;
let socket: string;
let child: ChildProcess | null = null;

/** Starts the fault daemon; resolves when it listens. */
function startDaemon(): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [DAEMON, cache, socket], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    c.stderr!.on("data", (d) => (stderr += d));
    c.stdout!.once("data", () => resolve(c));
    c.once("exit", (code) => reject(new Error(`fault daemon exited with ${code}: ${stderr}`)));
  });
}

function kill(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once("exit", () => resolve());
    c.kill("SIGKILL");
  });
}

const connect = () => DaemonClient.connect({ socketPath: socket, start: false, name: "fault" });

async function savedRoots(): Promise<string[]> {
  try {
    return (JSON.parse(await readFile(join(cache, "roots.json"), "utf8")) as { roots: string[] }).roots;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/** The notes on disk under `root`: path → the token only its current text holds. */
async function disk(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(root)) {
    const text = await readFile(join(root, name), "utf8");
    out.set(name, /tok[a-z]+/.exec(text)![0]);
  }
  return out;
}

let version = 0;
/** A token no other write uses, in letters only (the analyzer splits digits off) and without "s" (the plural stemmer). */
function token(n: number): string {
  const letters = "abcdefghijklmnopqrtuvwxyz";
  let out = "";
  do {
    out = letters[n % letters.length] + out;
    n = Math.floor(n / letters.length);
  } while (n > 0);
  return `tok${out}`;
}

async function writeNote(root: string, name: string): Promise<void> {
  version++;
  await writeFile(join(root, name), `# Keeper log\n\nEntry ${token(version)}: lamp oil and weather.\n`);
}

/** Waits until every open root is up to date. */
async function idle(c: DaemonClient): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const s = await c.status();
    if (s.roots.every((r) => r.state === "watching" && r.pending === 0)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("roots did not settle in 30 s");
}

/** The index of `root` equals the files on disk: each file once, its current token found in it alone. */
async function checkIndex(c: DaemonClient, root: string): Promise<void> {
  const files = await disk(root);
  const s = (await c.status()).roots.find((r) => r.root === root)!;
  expect({ root, files: s.files, chunks: s.chunks }).toEqual({ root, files: files.size, chunks: files.size });
  // Both phases done: a kill between them left nothing without its latent vector.
  expect(s.latent).toEqual({ ready: files.size, total: files.size });
  for (const [name, token] of files) {
    const hits = (await c.search({ query: token, mode: "lexical", roots: [root], k: 5 })).hits;
    expect(hits.map((h) => h.path), `${root}/${name} (${token})`).toEqual([name]);
  }
}

beforeAll(async () => {
  dir = await mkdtemp("/tmp/loupe-kill-");
  cache = join(dir, "cache");
  socket = join(dir, "run", "loupe.sock");
  await mkdir(join(dir, "run"), { mode: 0o700 });
  for (let f = 0; f < FOLDERS; f++) {
    await mkdir(join(dir, `ws${f}`));
    for (let i = 0; i < 12; i++) await writeNote(join(dir, `ws${f}`), `n${i}.md`);
  }
});

afterAll(async () => {
  if (child) await kill(child);
  await rm(dir, { recursive: true, force: true });
});

describe("kill -9 at random points", () => {
  it(`loses nothing and doubles nothing over ${ROUNDS} kills of add-root, remove-root, indexing, merging and reindex`, async () => {
    const random = rng(7);
    /** Roots whose add was answered and not removed since (answered): must be remembered. */
    const mustHave = new Set<string>();
    /** Roots whose removal was answered and not added since: must be gone. */
    const mustNotHave = new Set<string>();
    const ops: Record<string, number> = {};
    let interrupted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      child = await startDaemon();
      const c = await connect();
      // The state after the previous kill.
      const saved = await savedRoots();
      for (const r of mustHave) expect(saved, `round ${round}: answered add of ${r} lost`).toContain(r);
      for (const r of mustNotHave) expect(saved, `round ${round}: answered remove of ${r} undone`).not.toContain(r);
      expect(new Set(saved).size, "a root listed twice").toBe(saved.length);
      await idle(c);
      const open = (await c.status()).roots;
      expect(open.filter((r) => r.state === "error"), "a remembered root failed to reopen").toEqual([]);
      expect(open.map((r) => r.root).sort()).toEqual([...saved].sort());
      for (const r of saved) await checkIndex(c, r);

      // One operation, killed at a random moment (sometimes after it was answered).
      const folder = join(dir, `ws${Math.floor(random() * FOLDERS)}`);
      const pick = random();
      let op: string;
      let work: Promise<unknown>;
      let answered: () => void = () => {};
      if (pick < 0.3 || saved.length === 0) {
        op = "add-root";
        // Until answered, either outcome is allowed (the kill may land after the write, before the answer).
        mustHave.delete(folder);
        mustNotHave.delete(folder);
        work = c.addRoot(folder, { wait: random() < 0.5 });
        answered = () => { mustHave.add(folder); mustNotHave.delete(folder); };
      } else if (pick < 0.45) {
        op = "remove-root";
        const target = saved[Math.floor(random() * saved.length)]!;
        mustHave.delete(target);
        mustNotHave.delete(target);
        work = c.removeRoot(target);
        answered = () => { mustNotHave.add(target); mustHave.delete(target); };
      } else if (pick < 0.6) {
        op = "bulk indexing";
        // 45 new files at once: 15 commits of 3, so a merge (every 16 commits) comes within reach,
        // and the old bulk files go, to keep the folders small.
        const target = saved[Math.floor(random() * saved.length)]!;
        const changes: Array<Promise<void>> = [];
        for (const name of await readdir(target)) if (name.startsWith("bulk")) changes.push(unlink(join(target, name)));
        for (let i = 0; i < 45; i++) changes.push(writeNote(target, `bulk${round}-${i}.md`));
        work = Promise.all(changes);
      } else if (pick < 0.9) {
        op = "indexing";
        // Edits, new files and deletions in a served root: the watcher and the drain loop commit them.
        const target = saved[Math.floor(random() * saved.length)]!;
        const names = [...(await disk(target)).keys()];
        const changes: Array<Promise<void>> = [];
        for (let i = 0; i < 1 + Math.floor(random() * 15); i++) {
          const r = random();
          if (r < 0.6) changes.push(writeNote(target, names[Math.floor(random() * names.length)]!));
          else if (r < 0.85) changes.push(writeNote(target, `x${round}-${i}.md`));
          else if (names.length > 4) changes.push(unlink(join(target, names.splice(Math.floor(random() * names.length), 1)[0]!)).catch(() => {}));
        }
        work = Promise.all(changes);
      } else {
        op = "reindex";
        work = c.reindex(saved[Math.floor(random() * saved.length)]!, { wait: true });
      }
      ops[op] = (ops[op] ?? 0) + 1;
      let done = false;
      const settled = work.then(() => { done = true; answered(); }, () => {});
      await new Promise((r) => setTimeout(r, Math.floor(random() * (op === "bulk indexing" ? 400 : 120))));
      await kill(child);
      await settled;
      if (!done) interrupted++;
      c.close();
    }
    report({ test: "kill -9 at random points", rounds: ROUNDS, ops, interruptedBeforeAnswer: interrupted });
    // The kills landed both inside operations and after their answers.
    expect(interrupted).toBeGreaterThan(ROUNDS / 10);
    expect(Object.keys(ops).sort()).toEqual(["add-root", "bulk indexing", "indexing", "reindex", "remove-root"]);
  }, 900_000);
});
