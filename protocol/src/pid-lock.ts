// Lock files that name their holder's pid: the daemon's `<socket>.lock` and each index folder's
// `writer.lock`. A lock is taken by creating the file exclusively; a lock whose holder is gone
// is stale and taken over. "Gone" includes a zombie (a killed daemon whose parent has not reaped
// it yet still answers kill(pid, 0)) and, on Linux, a pid reused by a process that is not Node:
// either would otherwise block every restart until the pid disappeared.
import { readFileSync } from "node:fs";
import { open, readFile, rm, stat } from "node:fs/promises";

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Is `pid` a live process that could hold a Loupe lock? */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to someone else; a lock in our private folders is ours, so
    // treat it as alive rather than steal it.
    return errno(e) === "EPERM";
  }
  if (process.platform !== "linux") return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 3, after the parenthesised command name (which may itself hold spaces).
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return /node|loupe/i.test(cmdline);
  } catch {
    // /proc unreadable (hidepid): trust kill(pid, 0).
    return true;
  }
}

/** The pid holding `lock` when it is alive, else null (no lock, or a stale one). */
export async function lockHolder(lock: string): Promise<number | null> {
  const pid = Number((await readFile(lock, "utf8").catch(() => "")).trim());
  return pidAlive(pid) ? pid : null;
}

/**
 * Creates `lock` holding our pid, taking over a stale one. Resolves to a release function;
 * throws `busy(pid)` when a live process holds it.
 */
export async function takePidLock(lock: string, busy: (pid: number) => Error): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const f = await open(lock, "wx", 0o600);
      try {
        await f.writeFile(String(process.pid));
      } finally {
        await f.close();
      }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        // Only remove the lock while it is still ours (a stale-lock takeover may have replaced it).
        const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
        if (holder === process.pid) await rm(lock, { force: true });
      };
    } catch (e) {
      if (errno(e) !== "EEXIST") throw e;
      const text = await readFile(lock, "utf8").catch(() => null);
      if (text === null) continue; // released between our create and our read
      const pid = Number(text.trim());
      if (text !== "" && pidAlive(pid)) throw busy(pid);
      // Stale (or empty: a holder killed between create and write, or one writing right now).
      await removeStale(lock, text);
    }
  }
  throw busy(-1);
}

/**
 * Removes a stale lock, but only the very one we judged stale: two processes that both saw it
 * stale must not have the slower one delete the lock the faster one has just taken. The removal
 * is done under `<lock>.takeover` (itself dropped when older than 10 s: its holder died).
 */
async function removeStale(lock: string, seen: string): Promise<void> {
  const guard = `${lock}.takeover`;
  let g;
  try {
    g = await open(guard, "wx", 0o600);
  } catch (e) {
    if (errno(e) !== "EEXIST") throw e;
    const age = await stat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > 10_000) await rm(guard, { force: true });
    await new Promise((r) => setTimeout(r, 20));
    return;
  }
  try {
    if (seen === "") await new Promise((r) => setTimeout(r, 50)); // a holder may be writing its pid
    const now = await readFile(lock, "utf8").catch(() => null);
    if (now === seen) await rm(lock, { force: true });
  } finally {
    await g.close();
    await rm(guard, { force: true });
  }
}
