// Where Loupe keeps its files. Everything derived (converted model packs, later the indexes)
// lives under one cache folder: $LOUPE_CACHE_DIR, else $XDG_CACHE_HOME/loupe, else
// ~/.cache/loupe. Nothing in it is precious: deleting it costs a rebuild, never data. The
// daemon's socket lives in the runtime folder (below).
import { homedir } from "node:os";
import { join } from "node:path";

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOUPE_CACHE_DIR) return env.LOUPE_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".cache"), "loupe");
}

/**
 * Where the daemon's socket and lock live: $LOUPE_RUNTIME_DIR, else $XDG_RUNTIME_DIR/loupe (a
 * per-user tmpfs on most Linux systems), else the cache folder. Created with mode 0700.
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOUPE_RUNTIME_DIR) return env.LOUPE_RUNTIME_DIR;
  const xdg = env.XDG_RUNTIME_DIR;
  return xdg && xdg.startsWith("/") ? join(xdg, "loupe") : cacheDir(env);
}

/** The daemon's Unix socket: $LOUPE_SOCKET, else `<runtimeDir>/loupe.sock`. */
export function socketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOUPE_SOCKET || join(runtimeDir(env), "loupe.sock");
}
