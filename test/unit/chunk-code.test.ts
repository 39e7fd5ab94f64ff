// Tier: unit. Syntax-aware code chunks (web-tree-sitter + @vscode/tree-sitter-wasm grammars):
// 1-based line ranges, symbol paths, nested classes/methods, long-symbol splits, gap coverage,
// small neighbours merged into one chunk, and the line-window fallback. Fixtures are inline
// strings; the grammars load from node_modules. Over-long lines: chunk-limits.test.ts.
import { describe, expect, it } from "vitest";
import { chunkFile, type SymbolChunk } from "../../daemon/src/chunk/index.js";
import { chunkCode, mergedSymbol } from "../../daemon/src/chunk/code.js";

/** Every non-blank line in exactly one chunk, ranges ascending, text = those lines. */
function check(text: string, chunks: SymbolChunk[]): Array<[number, number, string]> {
  const lines = text.replace(/\n$/, "").split(/\r?\n/);
  let prevEnd = 0;
  for (const c of chunks) {
    expect(c.startLine).toBeGreaterThan(prevEnd);
    expect(c.endLine).toBeGreaterThanOrEqual(c.startLine);
    expect(c.text).toBe(lines.slice(c.startLine - 1, c.endLine).join("\n"));
    prevEnd = c.endLine;
  }
  lines.forEach((l, i) => {
    if (l.trim() !== "") expect(chunks.some((c) => c.startLine <= i + 1 && i + 1 <= c.endLine), `line ${i + 1} covered`).toBe(true);
  });
  return chunks.map((c) => [c.startLine, c.endLine, c.symbol]);
}

const TS = `import { a } from "a";
import { b } from "b";

/** The server. */
export class Server {
  private port = 1;

  handle(req: string): string {
    return req;
  }

  static Inner = class {
    run() {}
  };
}

export const helper = (x: number) => x + 1;
const k = 3;
console.log(k);

function top(): number {
  return 1;
}
`;

describe("chunkCode", () => {
  it("TypeScript: top-level declarations, gaps, and leading doc comments; small neighbours merge", async () => {
    // Server (12 lines) is over a sixth of maxLines, so it stays alone; the small tail merges.
    expect(check(TS, await chunkFile("src/a.ts", TS))).toEqual([
      [1, 2, ""],
      [4, 15, "Server"],
      [17, 23, "helper, top"],
    ]);
  });

  it("splits a class over the limits into header, methods (Class.method) and nested classes", async () => {
    const chunks = await chunkCode("a.ts", TS, { limits: { maxLines: 4, maxChars: 1500 } });
    expect(check(TS, chunks!)).toEqual([
      [1, 2, ""],
      [4, 6, "Server"],
      [8, 10, "Server.handle"],
      [12, 15, "Server.Inner"],
      [17, 19, "helper"], // one-line units are small at maxLines 4; statements add no name
      [21, 23, "top"],
    ]);
  });

  it("Python: nested classes and methods, decorators, module-level statements", async () => {
    const py = [
      "import os",
      "",
      "@dataclass",
      "class A:",
      '    """Doc."""',
      "    x = 1",
      "    def f(self):",
      "        return 1",
      "    class Inner:",
      "        def g(self):",
      "            pass",
      "",
      "def main():",
      "    print(1)",
      "",
      'if __name__ == "__main__":',
      "    main()",
    ].join("\n");
    const chunks = await chunkCode("m.py", py, { limits: { maxLines: 4, maxChars: 1500 } });
    expect(check(py, chunks!)).toEqual([
      [1, 1, ""],
      [3, 6, "A"],
      [7, 8, "A.f"],
      [9, 11, "A.Inner"],
      [13, 14, "main"],
      [16, 17, ""],
    ]);
  });

  it("a long function splits on statement boundaries and keeps its symbol", async () => {
    const body = Array.from({ length: 50 }, (_, i) => `  const v${i} = compute(${i}, "${"x".repeat(40)}");`);
    const src = ["export function big(): void {", ...body.slice(0, 25), "", ...body.slice(25), "}", ""].join("\n");
    const chunks = (await chunkFile("big.ts", src))!;
    const shape = check(src, chunks);
    expect(shape.length).toBeGreaterThan(1);
    expect(new Set(shape.map((s) => s[2]))).toEqual(new Set(["big"]));
    for (const c of chunks) expect(c.text.length <= 1500 && c.endLine - c.startLine < 60).toBe(true);
    expect(chunks[chunks.length - 1]!.text.endsWith("}")).toBe(true); // the closing brace joins the last piece
  });

  it("Go methods carry their receiver; Rust impls, Java and C++ nest", async () => {
    const go = "package main\n\nimport \"fmt\"\n\ntype Server struct {\n\tport int\n}\n\nfunc (s *Server) Handle(x int) int {\n\treturn x\n}\n\nfunc main() {\n\tfmt.Println(1)\n}\n";
    // maxLines 6: only one-line units are small, so nothing here merges (at the defaults it is one chunk).
    expect(check(go, (await chunkCode("x.go", go, { limits: { maxLines: 6, maxChars: 1500 } }))!)).toEqual([
      [1, 3, ""],
      [5, 7, "Server"],
      [9, 11, "Server.Handle"],
      [13, 15, "main"],
    ]);
    const rs = "use std::io;\n\n#[derive(Debug)]\nstruct S {\n    a: i32,\n}\n\nimpl S {\n    fn new() -> S {\n        S { a: 1 }\n    }\n    fn get(&self) -> i32 {\n        self.a\n    }\n}\n";
    expect(check(rs, (await chunkCode("x.rs", rs, { limits: { maxLines: 4, maxChars: 1500 } }))!)).toEqual([
      [1, 1, ""],
      [3, 6, "S"],
      [8, 8, "S"],
      [9, 11, "S.new"],
      [12, 15, "S.get"],
    ]);
    const java = "package p;\npublic class A {\n  int x;\n  void f() {\n    x++;\n  }\n  static class B {\n    void g() {}\n  }\n}\n";
    expect(check(java, (await chunkCode("A.java", java, { limits: { maxLines: 3, maxChars: 1500 } }))!)).toEqual([
      [1, 1, ""],
      [2, 3, "A"],
      [4, 6, "A.f"],
      [7, 10, "A.B"],
    ]);
    const cpp = "#include <x>\nnamespace ns {\nint Server::handle(int x) {\n  return x;\n}\n}\nstatic int *make(void) { return 0; }\n";
    expect(check(cpp, (await chunkCode("s.cc", cpp, { limits: { maxLines: 3, maxChars: 1500 } }))!)).toEqual([
      [1, 1, ""],
      [2, 2, "ns"],
      [3, 6, "ns.Server.handle"],
      [7, 7, "make"],
    ]);
  });

  it("unknown extensions fall back to line windows; broken code still covers every line", async () => {
    const text = Array.from({ length: 35 }, (_, i) => `row ${i}`).join("\n");
    expect(await chunkCode("notes.xyz", text)).toBeNull();
    expect(check(text, await chunkFile("notes.xyz", text))).toEqual([
      [1, 30, ""],
      [31, 35, ""],
    ]);
    const broken = "function ok() {\n  return 1;\n}\n\nclass {{{ oops\n  ((( \n";
    check(broken, (await chunkFile("b.js", broken))!);
    expect(await chunkFile("empty.ts", "")).toEqual([]);
  });
});

describe("chunkCode merges small neighbours", () => {
  it("a run of one-line TypeScript type aliases, imports and consts is one chunk; a big declaration stays alone", async () => {
    const fields = Array.from({ length: 12 }, (_, i) => `  readonly field${i}: string; // ${"doc ".repeat(6)}`);
    const src = [
      'import { a } from "a";',
      'import type { B } from "b";',
      "",
      "export type Id = string;",
      "export type Name = string;",
      "type Pair = [Id, Name];",
      "export type Handler = (id: Id) => void;",
      "export const MAX = 10;",
      "",
      "export interface Big {",
      ...fields,
      "}",
      "export type After = number;",
      "",
    ].join("\n");
    expect(check(src, await chunkFile("types.ts", src))).toEqual([
      [1, 8, "Id, Name, Pair, Handler"], // imports and the const carry no name of their own
      [10, 23, "Big"], // 14 lines / ~600 characters: not small, so it neither absorbs nor is absorbed
      [24, 24, "After"],
    ]);
  });

  it("small Python functions merge into one chunk named after all of them", async () => {
    const py = "import os\n\n\ndef a(x):\n    return x + 1\n\n\ndef b(x):\n    return x * 2\n\n\ndef c(x):\n    return a(b(x))\n";
    expect(check(py, (await chunkFile("m.py", py))!)).toEqual([[1, 13, "a, b, c"]]);
  });

  it("small methods of a class split over the limits merge as siblings, not across the class's end", async () => {
    const methods = Array.from({ length: 30 }, (_, i) => `  m${i}(): number {\n    return ${i};\n  }`);
    const src = ["export class Many {", ...methods, "}", "export function after(): void {}", ""].join("\n");
    const chunks = (await chunkFile("many.ts", src))!;
    const shape = check(src, chunks);
    expect(shape.length).toBeGreaterThan(1);
    expect(shape.length).toBeLessThan(6); // 30 methods, not 30 chunks
    expect(shape[0]![2]).toMatch(/^Many, Many\.m0, Many\.m1, .*…$/); // header + methods, cut with "…"
    for (const c of chunks) expect(c.text.length <= 1500 && c.endLine - c.startLine < 61).toBe(true);
    expect(shape[shape.length - 1]).toEqual([93, 93, "after"]); // a top-level sibling of Many, not of its methods
  });

  it("CommonJS member assignments are declarations: res.format, X.prototype.y, exports.z", async () => {
    const body = (name: string) => Array.from({ length: 12 }, (_, i) => `  var ${name}${i} = ${i};`).join("\n");
    const js = [
      "'use strict';",
      "var res = module.exports = { __proto__: http.ServerResponse.prototype };",
      "",
      "res.format = function(obj){", body("f"), "};",
      "",
      "Router.prototype.route = function route(path) {", body("r"), "};",
      "",
      "module.exports.compile = (src) => {", body("c"), "};",
      "",
      "exports.parse = function parse(s) {", body("p"), "};",
      "",
      "module.exports = function createApplication() {", body("a"), "};",
      "",
      "res.status = 404;",
      "",
    ].join("\n");
    const shape = check(js, (await chunkFile("lib/response.js", js))!);
    expect(shape.map((c) => c[2])).toEqual(["", "res.format", "Router.route", "compile", "parse", "createApplication", ""]);
    expect(shape[1]!.slice(0, 2)).toEqual([4, 17]);
  });

  it("a member assignment over the limits splits along its function body and keeps its name", async () => {
    const big = ["app.handle = function handle(req, res) {", ...Array.from({ length: 80 }, (_, i) => `  step${i}(req, res);`), "};", ""].join("\n");
    const shape = check(big, (await chunkFile("lib/app.js", big))!);
    expect(shape.length).toBeGreaterThan(1);
    for (const c of shape) expect(c[2]).toBe("app.handle");
  });

  it("mergedSymbol lists distinct names and cuts the list with an ellipsis", () => {
    expect(mergedSymbol(["", "A", "B", "A"])).toBe("A, B");
    expect(mergedSymbol(["", ""])).toBe("");
    expect(mergedSymbol(["alpha", "beta", "gamma", "delta"], 20)).toBe("alpha, beta, …");
    expect(mergedSymbol(["aVeryLongDeclarationName", "b"], 10)).toBe("aVeryLongDeclarationName, …");
  });
});
