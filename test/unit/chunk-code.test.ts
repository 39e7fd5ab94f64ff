// Tier: unit. Syntax-aware code chunks (web-tree-sitter + @vscode/tree-sitter-wasm grammars):
// 1-based line ranges, symbol paths, nested classes/methods, long-symbol splits, gap coverage,
// and the line-window fallback. Fixtures are inline strings; the grammars load from node_modules.
import { describe, expect, it } from "vitest";
import { chunkFile, type SymbolChunk } from "../../daemon/src/chunk/index.js";
import { chunkCode } from "../../daemon/src/chunk/code.js";

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
  it("TypeScript: top-level declarations, gaps, and leading doc comments", async () => {
    expect(check(TS, await chunkFile("src/a.ts", TS))).toEqual([
      [1, 2, ""],
      [4, 15, "Server"],
      [17, 17, "helper"],
      [18, 19, ""],
      [21, 23, "top"],
    ]);
  });

  it("splits a class over the limits into header, methods (Class.method) and nested classes", async () => {
    const chunks = await chunkCode("a.ts", TS, { limits: { maxLines: 4, maxChars: 1500 } });
    expect(check(TS, chunks!)).toEqual([
      [1, 2, ""],
      [4, 6, "Server"],
      [8, 10, "Server.handle"],
      [12, 15, "Server.Inner"],
      [17, 17, "helper"],
      [18, 19, ""],
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
    expect(check(go, (await chunkFile("x.go", go))!)).toEqual([
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
