// Tier: unit. Snippet lines: the window of a chunk that holds the most (idf-weighted) query words.
import { describe, expect, it } from "vitest";
import { bestSnippet } from "../../daemon/src/core/snippet.js";
import { numberedSnippet } from "@loupe/protocol";

const CHUNK = [
  "'use strict';",
  "",
  "var deprecate = require('depd')('express');",
  "",
  "res.format = function(obj){",
  "  var req = this.req;",
  "  var next = req.next;",
  "",
  "  var keys = Object.keys(obj)",
  "    .filter(function(v) { return v !== 'default' })",
  "",
  "  var key = keys.length > 0",
  "    ? req.accepts(keys)",
  "    : false;",
  "",
  "  this.vary(\"Accept\");",
  "  if (key) {",
  "    this.set('Content-Type', normalizeType(key).value);",
  "    obj[key](req, this, next);",
  "  } else if (obj.default) {",
  "    obj.default(req, this, next)",
  "  } else {",
  "    next(createError(406, { types: normalizeTypes(keys).map(function (o) { return o.value }) }))",
  "  }",
  "};",
].join("\n");

const w = (pairs: Record<string, number>) => new Map(Object.entries(pairs));

describe("bestSnippet", () => {
  it("shows the lines holding the query's rarest words, with their file line numbers", () => {
    const s = bestSnippet(CHUNK, 100, w({ accept: 3, content: 1.5, type: 1, vary: 4 }));
    // "vary" and "accept" (line 116) with Content-Type two lines below win over the chunk's head.
    expect(s.startLine).toBeGreaterThan(100);
    expect(s.text).toContain('this.vary("Accept");');
    expect(s.text).toContain("Content-Type");
    expect(s.endLine - s.startLine).toBeLessThan(6);
    expect(s.text.split("\n").length).toBe(s.endLine - s.startLine + 1);
    // Common indentation removed, relative indentation kept.
    expect(s.text.split("\n").some((l) => l !== "" && !l.startsWith(" "))).toBe(true);
  });

  it("counts each word once per window, so more different words beat one repeated word", () => {
    const text = ["next next next", "a", "b", "c", "d", "e", "f", "g", "accepts next", "vary"].join("\n");
    const s = bestSnippet(text, 1, w({ next: 1, accept: 1, vary: 1 }));
    expect(s.startLine).toBeGreaterThanOrEqual(8);
  });

  it("shows the first non-blank lines when no query word is in the chunk, and nothing for an empty chunk", () => {
    expect(bestSnippet("\n\nalpha\nbeta\n", 10, w({ zeta: 1 }))).toMatchObject({ startLine: 12, text: "alpha\nbeta" });
    expect(bestSnippet("", 5, w({ a: 1 }))).toEqual({ text: "", startLine: 5, endLine: 5 });
    expect(bestSnippet(CHUNK, 1, new Map()).startLine).toBe(1);
  });

  it("cuts over-long lines", () => {
    const s = bestSnippet(`x = ${"y".repeat(400)} needle`, 1, w({ needle: 1 }));
    expect(s.text.length).toBe(160);
    expect(s.text.endsWith("…")).toBe(true);
  });

  it("numbers the lines for the CLI and the MCP text mirror", () => {
    expect(numberedSnippet({ snippet: "a\n  b", snippetStartLine: 9, snippetEndLine: 10 }, "  ")).toBe("   9│ a\n  10│   b\n");
    expect(numberedSnippet({ snippet: "", snippetStartLine: 1, snippetEndLine: 1 }, "  ")).toBe("");
  });
});
