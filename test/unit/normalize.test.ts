// Unit tier: what the encoder reads after the pack's text normalisation (no model).
import { describe, expect, it } from "vitest";
import { normalizeForEncoder } from "../../daemon/src/model/normalize.js";

const check = (input: string, expected: string) => expect(normalizeForEncoder(input, "split-identifiers")).toBe(expected);

describe("normalizeForEncoder", () => {
  it("splits camelCase, PascalCase, acronyms and snake_case into words", () => {
    check("fetchUser", "fetch User");
    check("parseHTTPResponse", "parse HTTP Response");
    check("read_file_lines", "read file lines");
    check("MAX_RETRY_COUNT", "MAX RETRY COUNT");
    check("utf8Decode", "utf8 Decode");
  });
  it("turns layout into single spaces, so no newline reaches the tokenizer", () => {
    check("def f(x):\n\treturn x\n\n", "def f(x): return x");
  });
  it("leaves prose and other scripts as they are", () => {
    check("Retry the request after a timeout.", "Retry the request after a timeout.");
    check("检索增强生成 über Straßen", "检索增强生成 über Straßen");
  });
  it("returns the text untouched with `none`", () => {
    expect(normalizeForEncoder("fetchUser\n", "none")).toBe("fetchUser\n");
  });
});
