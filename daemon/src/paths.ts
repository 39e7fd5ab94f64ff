// Where Loupe keeps its files. Everything derived (converted model packs, later the indexes)
// lives under one cache folder: $LOUPE_CACHE_DIR, else $XDG_CACHE_HOME/loupe, else
// ~/.cache/loupe. Nothing in it is precious: deleting it costs a rebuild, never data.
import { homedir } from "node:os";
import { join } from "node:path";

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOUPE_CACHE_DIR) return env.LOUPE_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".cache"), "loupe");
}
