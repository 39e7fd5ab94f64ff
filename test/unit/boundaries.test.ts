// Tier: unit (reads the daemon's sources). The layers' import rules, checked on every file's
// imports as the TypeScript compiler reads them (`ts.preProcessFile`), so a module that reaches
// across the graph fails here instead of in review: the protocol side (what clients such as the
// MCP server and an editor extension use) pulls in nothing heavy, the MCP server talks to the
// daemon only through it, and the index, the scorers and the leaves know nothing of models,
// files or adapters. ARCHITECTURE.md lists the same rules.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = new URL("../../daemon/src", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Each source file (relative to daemon/src) → what it imports: other files as relative paths (`index/meta.ts`), packages by name. */
const graph = new Map(
  sources(SRC).map((file) => {
    const imports = ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles.map(({ fileName: n }) =>
      n.startsWith(".") ? relative(SRC, resolve(dirname(file), n)).replace(/\.js$/, ".ts") : n,
    );
    return [relative(SRC, file), imports] as const;
  }),
);

const builtin = (m: string) => m.startsWith("node:") || builtinModules.includes(m);
const pkg = (m: string) => !m.endsWith(".ts");
const PROTOCOL_SIDE = ["protocol.ts", "errors.ts", "paths.ts", "client.ts", "pid-lock.ts"];
const mcpMayImport = (m: string) => builtin(m) || m.startsWith("@modelcontextprotocol/sdk/") || m === "zod" || m.startsWith("mcp/") || PROTOCOL_SIDE.includes(m);

/** Files matching `from` whose imports break `allowed`. */
function violations(from: RegExp, allowed: (imported: string) => boolean): string[] {
  const out: string[] = [];
  for (const [file, imports] of graph) {
    if (!from.test(file)) continue;
    for (const m of imports) if (!allowed(m)) out.push(`${file} → ${m}`);
  }
  return out;
}

describe("import boundaries", () => {
  it("sees the whole source tree", () => {
    expect(graph.size).toBeGreaterThan(60);
    expect(graph.get("index/searcher.ts")).toContain("index/segment-reader.ts");
  });

  it("the protocol side (protocol, errors, paths, client, pid-lock) needs only Node and the LSP protocol package", () => {
    expect(violations(/^(protocol|errors|paths|client|pid-lock)\.ts$/, (m) => builtin(m) || m.startsWith("vscode-languageserver-protocol") || PROTOCOL_SIDE.includes(m))).toEqual([]);
  });

  it("the MCP server reaches the daemon only through the protocol side", () => {
    expect(violations(/^mcp\//, mcpMayImport)).toEqual([]);
  });

  it("the index knows nothing of models, files, chunkers, the core or adapters", () => {
    expect(violations(/^index\//, (m) => !/^(model|core|chunk|workspace|server|cli|mcp|eval)\//.test(m) && !["onnxruntime-node", "@vscode/tree-sitter-wasm", "chokidar"].includes(m))).toEqual([]);
  });

  it("the scorers and the leaves know nothing of models or the index", () => {
    expect(violations(/^search\//, (m) => builtin(m) || pkg(m) || /^(search|analysis)\//.test(m) || ["file-types.ts", "sparse-vector.ts"].includes(m))).toEqual([]);
    expect(violations(/^sparse-vector\.ts$/, () => false)).toEqual([]);
    expect(violations(/^file-types\.ts$/, (m) => m === "protocol.ts")).toEqual([]);
    expect(violations(/^analysis\//, (m) => builtin(m) || m.startsWith("analysis/"))).toEqual([]);
  });

  it("the model knows nothing of the index, the core, the chunkers or adapters", () => {
    expect(violations(/^model\//, (m) => !/^(index|core|chunk|search|server|cli|mcp|eval)\//.test(m))).toEqual([]);
  });

  it("nothing but the CLI imports the CLI", () => {
    expect(violations(/^(?!cli\/)/, (m) => !m.startsWith("cli/"))).toEqual([]);
  });

  it("a rule catches a file that breaks it", () => {
    graph.set("mcp/_probe.ts", ["core/loupe.ts"]);
    try {
      expect(violations(/^mcp\//, mcpMayImport)).toEqual(["mcp/_probe.ts → core/loupe.ts"]);
    } finally {
      graph.delete("mcp/_probe.ts");
    }
  });
});
