// Tier: unit. The lexical analyzer on identifiers, scripts without spaces, and plural folding.
import { describe, expect, it } from "vitest";
import { analyze, MAX_TERM_LENGTH, sStem } from "../../daemon/src/analysis/analyzer.js";

const check = (text: string, expected: string[]) => expect(analyze(text)).toEqual(expected);

describe("analyze", () => {
  it("keeps identifiers whole and adds their parts", () => {
    check("getHTTPResponse", ["gethttpresponse", "get", "http", "response"]);
    check("fetch_user_id", ["fetch_user_id", "fetch", "user", "id"]);
    check("utf8Decode", ["utf8decode", "utf", "8", "decode"]);
  });
  it("splits on punctuation and drops underscore wrappers", () => {
    check("os.path.join(__init__)", ["os", "path", "join", "init"]);
    check("___", []);
  });
  it("segments Chinese and Thai into words", () => {
    expect(analyze("敏捷的棕色狐狸")).toEqual(["敏捷", "的", "棕色", "狐狸"]);
    expect(analyze("ฉันชอบกินข้าวผัด")).toEqual(["ฉัน", "ชอบ", "กิน", "ข้าว", "ผัด"]);
  });
  it("lower-cases and NFKC-normalises, keeping accents", () => {
    check("Äpfel ﬁle", ["äpfel", "file"]);
  });
  it("folds English plurals on plain ASCII words only", () => {
    expect(sStem("queries")).toBe("query");
    expect(sStem("args")).toBe("arg");
    expect(sStem("class")).toBe("class");
    expect(sStem("status")).toBe("status");
    expect(sStem("bus")).toBe("bus"); // too short to touch
    check("Files Häuses", ["file", "häuses"]);
  });
  it("drops overlong terms", () => {
    expect(analyze("a".repeat(MAX_TERM_LENGTH + 1) + " ok")).toEqual(["ok"]);
  });
});
