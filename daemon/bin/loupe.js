#!/usr/bin/env node
// The `loupe` executable: runs the compiled CLI (built by `npm ci` / `npm run build`).
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("loupe: the CLI is not built yet; run `npm run build` in the repository root.\n");
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
