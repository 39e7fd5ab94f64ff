// The built `loupe` binary in a child process (the end-to-end and fault tiers): one runner that
// never throws on a non-zero exit, and `loupe mcp --http 0` started and waited for until it
// prints its address.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";

export const BIN = new URL("../../daemon/bin/loupe.js", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `loupe ...args` with `env`; a failing exit is a result, not an exception. */
export async function runLoupe(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { env, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Starts `loupe mcp --root <root> --http 0`; resolves with the process and its endpoint once it listens. */
export function startHttpMcp(env: NodeJS.ProcessEnv, root: string): Promise<{ server: ChildProcess; url: URL }> {
  const server = spawn(process.execPath, [BIN, "mcp", "--root", root, "--http", "0"], { env, stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((resolve, reject) => {
    let err = "";
    server.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(err);
      if (m) resolve({ server, url: new URL(m[1]!) });
    });
    server.once("exit", (code) => reject(new Error(`loupe mcp --http exited with ${code}: ${err}`)));
  });
}
