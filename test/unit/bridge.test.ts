// Tier: unit. The bridge across languages (daemon/src/analysis/bridge.ts): its table search on
// small tables written here, and the shipped tables and language detector on a few words and
// sentences (real data, no model, no IO beyond reading the tables).
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { analyze } from "../../daemon/src/analysis/analyzer.js";
import { Bridge, BRIDGE, chunkReading, forEncoder, latentText, Lexicon, openBridge, PLAIN, questionGlossedFrom, questionTrust } from "../../daemon/src/analysis/bridge.js";
import { packReads } from "../../daemon/src/model/pack.js";

const table = (lines: string[]) => Buffer.from([...lines].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).join("\n") + "\n");

describe("Lexicon", () => {
  const lex = new Lexicon(table(["brot\tbread:1", "ofen\toven:0.5 stove:0.5", "und\t", "~back\tbake:1", "ärger\tanger:1", "番茄\ttomato:1"]));

  it("finds every key, first and last included, and nothing else", () => {
    expect(lex.size).toBe(6);
    expect(lex.get("brot")).toEqual([["bread", 1]]);
    expect(lex.get("ofen")).toEqual([["oven", 0.5], ["stove", 0.5]]);
    expect(lex.get("~back")).toEqual([["bake", 1]]);
    expect(lex.get("番茄")).toEqual([["tomato", 1]]);
    expect(lex.get("ärger")).toEqual([["anger", 1]]);
    for (const missing of ["", "bro", "brotx", "zzz", "aaa", "番"]) expect(lex.get(missing)).toBeUndefined();
  });

  it("gives a stop word (a key without translations) as an empty list", () => {
    expect(lex.get("und")).toEqual([]);
  });

  it("reads a table without a final newline, and an empty one", () => {
    expect(new Lexicon(Buffer.from("a\tx:1\nb\ty:1")).get("b")).toEqual([["y", 1]]);
    expect(new Lexicon(Buffer.alloc(0)).get("a")).toBeUndefined();
  });
});

describe("Bridge on tables written here", () => {
  let bridge: Bridge;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), "loupe-bridge-"));
    await writeFile(join(dir, "zh.tsv.gz"), gzipSync(table(["番茄\ttomato:1", "酱\tsauce:0.5 paste:0.5", "的\t"])));
    await writeFile(join(dir, "manifest.json"), JSON.stringify({ version: 1, languages: { zh: { name: "Chinese", keys: 3, bytes: 0, sources: [] } } }));
    bridge = await Bridge.open(pathToFileURL(dir + "/"));
  });

  it("splits a word the segmenter kept whole into the longest dictionary words it contains", () => {
    expect(bridge.translate("zh", "番茄酱")).toEqual([["tomato", 0.5], ["sauce", 0.25], ["paste", 0.25]]);
    expect(bridge.translate("zh", "的")).toEqual([]);
    expect(bridge.translate("zh", "咖啡")).toBeUndefined();
    expect(bridge.translate("de", "brot")).toBeUndefined(); // no table for German here
    expect(bridge.languages).toEqual(["zh"]);
  });

  it("says plainly when its tables are missing", async () => {
    await expect(Bridge.open(pathToFileURL(join(tmpdir(), "no-such-bridge-dir") + "/"))).rejects.toThrow(/bridge's tables are missing.*reinstall/);
  });
});

describe("the shipped bridge", () => {
  let bridge: Bridge;
  beforeAll(async () => {
    bridge = await openBridge();
  });

  it("bridges the languages of its manifest, each with a table", () => {
    expect(bridge.languages).toEqual(["ar", "de", "el", "es", "hi", "ru", "tr", "zh"]);
    for (const l of bridge.languages) expect(bridge.manifest.languages[l]!.keys).toBeGreaterThan(1000);
  });

  it("translates a word, else its stem; never a stop word ([]) or a number", () => {
    expect(bridge.translate("de", "brot")?.map(([t]) => t)).toContain("bread");
    expect(bridge.translate("de", "broten")?.map(([t]) => t)).toContain("bread"); // by its stem
    expect(bridge.translate("ru", "хлеб")?.map(([t]) => t)).toContain("bread");
    expect(bridge.translate("zh", "番茄")?.map(([t]) => t)).toContain("tomato");
    expect(bridge.translate("de", "und")).toEqual([]);
    expect(bridge.translate("de", "1990")).toBeUndefined();
  });

  it("asks a German question also by its stems and in English, its own words weighing most", () => {
    const q = bridge.query("Wann wurde das Brot im Ofen gebacken?");
    expect(q.language).toBe("de");
    expect(q.terms.get("brot")).toBe(1);
    expect(q.terms.get("bread")).toBeCloseTo(BRIDGE.queryWeight, 5);
    expect(q.terms.get("oven")).toBeGreaterThan(0);
    expect(q.gloss).toMatch(/bread.*oven/);
    expect(q.terms.get("~geback")).toBe(1); // Snowball's stem of "gebacken", beside the word
    expect(q.terms.has("~das")).toBe(false); // stop words have no stem term
    for (const [t, w] of q.terms) if (!t.startsWith("~") && !analyze("Wann wurde das Brot im Ofen gebacken?").includes(t)) expect(w).toBeLessThanOrEqual(BRIDGE.queryWeight + 1e-9);
  });

  it("leaves an English question, and one it cannot place, as they are", () => {
    const en = bridge.query("when was the bread baked in the oven");
    expect(en.gloss).toBeUndefined();
    expect([...en.terms.keys()]).toEqual([...new Set(analyze("when was the bread baked in the oven"))]);
    expect(bridge.query("x").gloss).toBeUndefined();
  });

  it("adds English words to a German note, not to code or to an English note", () => {
    const text = "Das Brot im vorgeheizten Ofen backen, bis die Kruste knusprig ist.";
    const terms = bridge.chunk("Rezepte/brot.md", text, true);
    expect(terms.slice(0, analyze(`Rezepte/brot.md\n${text}`).length)).toEqual(analyze(`Rezepte/brot.md\n${text}`));
    expect(terms).toEqual(expect.arrayContaining(["bread", "oven", "crust", "~brot", "~vorgeheizt"]));
    expect(bridge.chunk("src/brot.ts", text, false)).toEqual(analyze(`src/brot.ts\n${text}`));
    const english = "Bake the bread in a hot oven until the crust is crisp.";
    expect(bridge.chunk("notes/bread.md", english, true)).toEqual(analyze(`notes/bread.md\n${english}`));
  });

  it("gives the latent channel a note in English words, and trusts a translated question as set", () => {
    expect(bridge.document("Хлеб пекут в горячей печи.", true)).toMatch(/bread/);
    expect(bridge.document("Хлеб пекут в горячей печи.", false)).toBe("Хлеб пекут в горячей печи.");
    const latin = new Set(["Latin"]);
    const ru = bridge.query("Где купить свежий хлеб?");
    expect(ru.gloss).toBe("buy fresher bread"); // the stop word left out
    expect(ru.coverage).toBe(1);
    expect(questionTrust("Где купить свежий хлеб?", ru, latin, 1)).toBe(1);
    expect(questionTrust("Где купить свежий хлеб?", ru, latin, 0.5)).toBe(0.5);
    const partly = bridge.query("Где пекут хлеб?"); // пекут is not in the dictionary: it stays, unread
    expect(partly.coverage).toBe(0.5);
    expect(questionTrust("Где пекут хлеб?", partly, latin, 1, 0)).toBeCloseTo(0.5, 5); // half its letters are Latin
    expect(questionTrust("Где пекут хлеб?", partly, latin, 1, 4)).toBeCloseTo(0.5 * 0.5 ** 4, 5);
    expect(questionTrust("Где хлеб?", PLAIN.query("Где хлеб?"), latin)).toBe(0); // unread, untranslated
  });

  it("leaves a note or question in a language the pack's encoder reads as it is written", () => {
    const readsRussian = packReads({ languages: ["en", "ru"] });
    expect(bridge.document("Хлеб пекут в горячей печи.", true, readsRussian)).toBe("Хлеб пекут в горячей печи.");
    expect(bridge.document("Хлеб пекут в горячей печи.", true, packReads({}))).toMatch(/bread/); // default: English only
    const ru = bridge.query("Где купить свежий хлеб?");
    expect(forEncoder(ru, readsRussian)).toMatchObject({ gloss: undefined, terms: ru.terms });
    expect(latentText("Где купить свежий хлеб?", forEncoder(ru, packReads({ languages: ["*"] })))).toBe("Где купить свежий хлеб?");
    expect(forEncoder(ru, packReads({ languages: ["de"] })).gloss).toBe("buy fresher bread");
  });

  it("says how the latent channel read a note and a question: the language of the gloss, the readable share", () => {
    const latin = { readableScripts: new Set(["Latin"]), readsLanguage: packReads({}) };
    const note = "Хлеб пекут в горячей печи.";
    expect(chunkReading(bridge, note, true, latin)).toEqual({ glossedFrom: "ru", readable: 0 });
    expect(bridge.glossedFrom(note, true)).toBe("ru");
    // Code is never glossed; a note in a language the encoder reads, or one in English, is read as written.
    expect(chunkReading(bridge, note, false, latin)).toEqual({ readable: 0 });
    expect(chunkReading(bridge, note, true, { ...latin, readsLanguage: packReads({ languages: ["en", "ru"] }) })).toEqual({ readable: 0 });
    expect(chunkReading(bridge, "Bread is baked in a hot oven.", true, latin)).toEqual({});
    // Thai has no table: read as written, and almost none of it is readable.
    const thai = chunkReading(bridge, "ขนมปังอบในเตาร้อน bread", true, latin);
    expect(thai.glossedFrom).toBeUndefined();
    expect(thai.readable).toBeGreaterThan(0);
    expect(thai.readable).toBeLessThan(0.5);
    expect(chunkReading(PLAIN, note, true, latin)).toEqual({ readable: 0 });
    // The question's side: the language of its gloss, none where it is read as asked.
    expect(questionGlossedFrom(bridge.query("Где купить свежий хлеб?"))).toBe("ru");
    expect(questionGlossedFrom(forEncoder(bridge.query("Где купить свежий хлеб?"), packReads({ languages: ["*"] })))).toBeUndefined();
    expect(questionGlossedFrom(bridge.query("where to buy fresh bread"))).toBeUndefined();
  });
});
