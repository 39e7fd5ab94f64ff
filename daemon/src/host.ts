// What the `loupe` executable knows of itself: its version (the CLI, the daemon and the MCP
// server report it) and how to run it again (clients start the daemon with it).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Loupe's version, from this package's manifest. */
export function loupeVersion(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** The command that runs this `loupe`: this Node and its bin/loupe.js (whatever PATH holds). */
export function loupeCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL("../bin/loupe.js", import.meta.url))];
}
