// Shared by the fault suite (test/faults/): a real daemon process of the test's own, under a
// short /tmp folder (a Unix socket path must stay under 108 bytes), with the default model pack
// lent from the test cache rather than converted again; the `loupe` CLI in that environment;
// the daemon's peak memory from /proc; and the optional JSON-lines report of measured numbers
// (LOUPE_FAULTS_REPORT names the file; nothing is written without it).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { DaemonClient, type StatusResult } from "@loupe/protocol";
import { TEST_CACHE } from "./default-pack.js";
import { report } from "./fault-report.js";

export const BIN = new URL("../../daemon/bin/loupe.js", import.meta.url).pathname;
export const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
}

export interface FaultDaemon {
  /** The temp folder holding cache, runtime folder and any workspace the test writes. */
  dir: string;
  env: NodeJS.ProcessEnv;
  socket: string;
  /** Runs `loupe ...args` with this daemon's environment; never throws on a non-zero exit. */
  loupe(...args: string[]): Promise<CliResult>;
  /** A client of this daemon (never starts one); closed by `close`. */
  client(name?: string): Promise<DaemonClient>;
  status(): Promise<StatusResult>;
  /** Stops the daemon (`loupe daemon stop`), closes the clients and deletes the folder. */
  close(): Promise<void>;
}

/**
 * A temp folder and environment for a daemon of this test's own, started with `loupe daemon
 * start` (the model pack is lent from LOUPE_TEST_CACHE when it is there).
 */
export async function startFaultDaemon(): Promise<FaultDaemon> {
  const dir = await mkdtemp("/tmp/loupe-f-");
  const env: NodeJS.ProcessEnv = { ...process.env, LOUPE_CACHE_DIR: join(dir, "c"), LOUPE_RUNTIME_DIR: join(dir, "r") };
  delete env.LOUPE_SOCKET;
  for (const name of Object.keys(env)) if (name.startsWith("XDG_")) delete env[name];
  const packs = join(TEST_CACHE, "packs");
  if (existsSync(packs)) {
    await mkdir(join(dir, "c", "packs"), { recursive: true });
    for (const name of await readdir(packs)) if (!name.includes(".tmp-")) await symlink(join(packs, name), join(dir, "c", "packs", name));
  }
  const socket = join(dir, "r", "loupe.sock");
  const clients: DaemonClient[] = [];
  const loupe = async (...args: string[]): Promise<CliResult> => {
    const started = performance.now();
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { env, maxBuffer: 64 << 20 });
      return { code: 0, stdout, stderr, ms: performance.now() - started };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? String(e), ms: performance.now() - started };
    }
  };
  const started = await loupe("daemon", "start");
  if (started.code !== 0) throw new Error(`loupe daemon start failed (${started.code}): ${started.stderr}`);
  const daemon: FaultDaemon = {
    dir,
    env,
    socket,
    loupe,
    async client(name = "fault") {
      const c = await DaemonClient.connect({ socketPath: socket, start: false, name });
      clients.push(c);
      return c;
    },
    async status() {
      const r = await loupe("status", "--json");
      if (r.code !== 0) throw new Error(`loupe status failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout) as StatusResult;
    },
    async close() {
      for (const c of clients) c.close();
      await loupe("daemon", "stop");
      await rm(dir, { recursive: true, force: true });
    },
  };
  return daemon;
}

/** A process's peak resident set (VmHWM) in bytes, from /proc. */
export async function peakRss(pid: number): Promise<number> {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export const MiB = 1 << 20;

/** Is a process with this pid alive? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The q-quantile (0..1) of `values` by nearest rank. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Milliseconds `body` took, with its outcome. */
export async function timed<T>(body: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await body();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

export const round1 = (x: number) => Math.round(x * 10) / 10;

/** Appends `{"test": name, ...numbers}` as one line to $LOUPE_FAULTS_REPORT, when it is set. */
export async function reportNumbers(test: string, numbers: Record<string, unknown>): Promise<void> {
  report({ test, ...numbers });
}
