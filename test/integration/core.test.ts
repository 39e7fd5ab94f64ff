// Tier: integration. The core façade over real folders, a real on-disk index and a real
// chokidar watcher, with the deterministic fake encoder (test/support/fake-encoder.ts) so no
// ONNX runs. The end-to-end tests (test/e2e/daemon.test.ts) repeat the main paths with the
// real daemon process and the default pack.
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ANALYZER_VERSION } from "../../daemon/src/analysis/analyzer.js";
import { CHUNKER_VERSION } from "../../daemon/src/chunk/index.js";
import { Loupe } from "../../daemon/src/core/loupe.js";
import { FsDirectory } from "../../daemon/src/index/directory.js";
import { Index } from "../../daemon/src/index/index.js";
import { eventually } from "../support/eventually.js";
import { fakeEncoder } from "../support/fake-encoder.js";

const open: Loupe[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

async function setup(files: Record<string, string>, opts: { watch?: boolean; encoder?: ReturnType<typeof fakeEncoder>; cache?: string } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "loupe-core-"));
  const root = join(dir, "ws");
  for (const [p, text] of Object.entries(files)) {
    await mkdir(join(root, p, ".."), { recursive: true });
    await writeFile(join(root, p), text);
  }
  await mkdir(root, { recursive: true });
  const encoder = opts.encoder ?? fakeEncoder();
  const loupe = new Loupe({ cacheDir: opts.cache ?? join(dir, "cache"), encoder, rootOptions: { watch: opts.watch ?? true, debounceMs: 10 } });
  open.push(loupe);
  await loupe.addRoot(root);
  await loupe.whenIdle();
  return { dir, root, loupe, encoder, cache: opts.cache ?? join(dir, "cache") };
}

const paths = async (loupe: Loupe, query: string, extra: object = {}) => (await loupe.search({ query, ...extra })).hits.map((h) => h.path);

describe("Loupe core", () => {
  it("indexes a tree with syntax-aware chunks and answers with editor-shaped hits", async () => {
    const { loupe, root } = await setup({
      "src/retry.py": "import time\n\n\ndef retry_with_backoff(fn, attempts=5):\n    \"\"\"Retry fn with exponential backoff.\"\"\"\n    for i in range(attempts):\n        time.sleep(2 ** i)\n",
      "notes/plan.md": "# Plan\n\n## Deploy\n\nShip the frankfurter on Friday.\n",
      "node_modules/x/index.js": "function retry_with_backoff() {}\n",
    });
    const r = await loupe.search({ query: "retry_with_backoff" });
    expect(r.hits[0]).toMatchObject({ root, path: "src/retry.py", file: join(root, "src/retry.py"), symbol: "retry_with_backoff", language: "py", kind: "code" });
    expect(r.hits[0]!.startLine).toBeLessThanOrEqual(4);
    expect(r.hits[0]!.endLine).toBe(7);
    expect(r.hits.map((h) => h.path)).not.toContain("node_modules/x/index.js");
    expect(r.indexing).toBeNull();
    const md = await loupe.search({ query: "frankfurter" });
    expect(md.hits[0]).toMatchObject({ path: "notes/plan.md", symbol: "Plan > Deploy", kind: "notes" });
    expect(md.hits[0]!.concepts.length).toBeGreaterThan(0);
    expect(md.hits[0]!.concepts[0]!.label).toMatch(/^latent \d+$/);
  });

  it("filters by path globs, exclusions, kinds and languages, and pages with nextOffset", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 15; i++) files[`a/f${i}.ts`] = `export const widget${i} = "widget";\n`;
    files["b/widget.md"] = "# Widget\n\nA widget note.\n";
    const { loupe } = await setup(files, { watch: false });
    expect(await paths(loupe, "widget", { paths: ["b/**"] })).toEqual(["b/widget.md"]);
    expect(await paths(loupe, "widget", { kinds: ["notes"] })).toEqual(["b/widget.md"]);
    expect((await paths(loupe, "widget", { exclude: ["a/**"], k: 50 }))).toEqual(["b/widget.md"]);
    expect((await paths(loupe, "widget", { languages: ["ts"], k: 50 })).length).toBe(15);
    const p1 = await loupe.search({ query: "widget", k: 10 });
    expect(p1.nextOffset).toBe(10);
    const p2 = await loupe.search({ query: "widget", k: 10, offset: 10 });
    expect(p2.nextOffset).toBeNull();
    expect(p2.hits.length).toBe(6);
    expect(new Set([...p1.hits, ...p2.hits].map((h) => h.path)).size).toBe(16);
  });

  it("follows creates, edits, renames, deletes and folder deletes through the watcher", async () => {
    const { loupe, root } = await setup({ "docs/a.md": "# A\n\nalpha\n" });
    await writeFile(join(root, "docs/b.md"), "# B\n\nbravo zulu\n");
    await eventually(async () => expect({ hits: await paths(loupe, "bravo"), status: await loupe.rootStatus(loupe.rootList()[0]!) }).toMatchObject({ hits: ["docs/b.md"] }));
    await writeFile(join(root, "docs/b.md"), "# B\n\ncharlie\n");
    await eventually(async () => expect(await paths(loupe, "charlie")).toEqual(["docs/b.md"]));
    expect(await paths(loupe, "bravo")).toEqual([]);
    await rename(join(root, "docs/b.md"), join(root, "docs/c.md"));
    await eventually(async () => expect(await paths(loupe, "charlie")).toEqual(["docs/c.md"]));
    await mkdir(join(root, "deep/er"), { recursive: true });
    await writeFile(join(root, "deep/er/d.md"), "delta\n");
    await eventually(async () => expect(await paths(loupe, "delta")).toEqual(["deep/er/d.md"]));
    await rm(join(root, "deep"), { recursive: true });
    await eventually(async () => expect(await paths(loupe, "delta")).toEqual([]));
    await rm(join(root, "docs/a.md"));
    await eventually(async () => expect(await paths(loupe, "alpha")).toEqual([]));
    const st = await loupe.rootStatus(loupe.rootList()[0]!);
    expect(st).toMatchObject({ files: 1, state: "watching" });
  });

  it("applies .gitignore changes, and skips binaries and symlink loops without dying", async () => {
    const { loupe, root } = await setup({ "keep.md": "kiwi\n", "drop/x.md": "kiwi drop\n" });
    await writeFile(join(root, "bin.dat"), Buffer.from([0x6b, 0x69, 0x77, 0x69, 0, 1, 2]));
    await symlink(root, join(root, "loop"));
    // Latin-1, not UTF-8: four invalid bytes in 24 (a stray one or two would be indexed as U+FFFD).
    await writeFile(join(root, "bad.md"), Buffer.from("kiwi caf\xe9 na\xefve \xe0 la cr\xe8me", "latin1"));
    await writeFile(join(root, ".gitignore"), "drop/\n");
    await eventually(async () => expect(await paths(loupe, "kiwi")).toEqual(["keep.md"]));
    await writeFile(join(root, ".gitignore"), "");
    await eventually(async () => expect((await paths(loupe, "kiwi")).sort()).toEqual(["drop/x.md", "keep.md"]));
  });

  it("re-encodes only the changed function of a large file, and nothing after a restart", async () => {
    const fns = Array.from({ length: 30 }, (_, i) => `def handler_${i}(event):\n    """Handle event ${i}."""\n` + Array.from({ length: 12 }, (_, j) => `    value_${j} = event.get("k${i}_${j}")\n`).join("") + "    return event\n");
    const { loupe, root, encoder, cache } = await setup({ "big.py": fns.join("\n\n") });
    const chunks = encoder.encoded.length;
    expect(chunks).toBeGreaterThan(5);
    fns[7] = fns[7]!.replace("return event", "return rewritten_marker");
    await writeFile(join(root, "big.py"), fns.join("\n\n"));
    await eventually(async () => expect(await paths(loupe, "rewritten_marker", { mode: "lexical" })).toEqual(["big.py"]));
    await loupe.whenIdle(); // the changed chunk's vector follows the words (phase 2)
    const reencoded = encoder.encoded.slice(chunks);
    expect(reencoded.length).toBeGreaterThanOrEqual(1);
    expect(reencoded.length).toBeLessThanOrEqual(2);
    expect(reencoded.join("\n")).toContain("rewritten_marker");
    await loupe.close();

    // Restart with an empty vector cache and an edit made while down: the unchanged chunks'
    // vectors come back from the index, only the edited one is encoded.
    fns[20] = fns[20]!.replace("return event", "return offline_edit");
    await writeFile(join(root, "big.py"), fns.join("\n\n"));
    const again = fakeEncoder();
    const l2 = new Loupe({ cacheDir: cache, encoder: again, rootOptions: { watch: false } });
    open.push(l2);
    await l2.addRoot(root);
    await l2.whenIdle();
    expect(again.encoded.length).toBeLessThanOrEqual(2);
    expect(again.encoded.join("\n")).toContain("offline_edit");
    expect(await paths(l2, "offline_edit", { mode: "lexical" })).toEqual(["big.py"]);
    expect((await l2.search({ query: "handler_3", mode: "lexical" })).hits[0]).toMatchObject({ path: "big.py", symbol: "handler_3" });
  });

  it("keeps no copy of chunk texts (snippets come from the files), and a folder moved while down re-encodes nothing", async () => {
    const { loupe, root, cache } = await setup({
      "lib/greet.ts": 'export const greeting = "Zebra-Quokka says hi!!!";\n',
      "lib/math.ts": "export function addAll(xs: number[]) {\n  return xs.reduce((a, b) => a + b, 0);\n}\n",
      "notes.md": "# Notes\n\nThe quokka is a small wallaby.\n",
    }, { watch: false });
    const hit = (await loupe.search({ query: "zebra quokka greeting" })).hits.find((h) => h.path === "lib/greet.ts");
    expect(hit?.snippet).toContain('"Zebra-Quokka says hi!!!"');
    const { indexDir } = await loupe.rootStatus(loupe.rootList()[0]!);
    for (const name of await readdir(indexDir)) {
      expect((await readFile(join(indexDir, name))).includes("Zebra-Quokka says hi")).toBe(false);
    }
    await loupe.close();

    await rename(join(root, "lib"), join(root, "src"));
    const again = fakeEncoder(); // and an empty vector cache: the vectors can only come from the index
    const l2 = new Loupe({ cacheDir: cache, encoder: again, rootOptions: { watch: false } });
    open.push(l2);
    await l2.addRoot(root);
    await l2.whenIdle();
    expect(again.encoded).toEqual([]);
    expect((await l2.search({ query: "addAll" })).hits[0]).toMatchObject({ path: "src/math.ts", snippet: expect.stringContaining("xs.reduce") });
    expect((await l2.rootStatus(l2.rootList()[0]!)).latent).toEqual({ ready: 3, total: 3 });
  });

  it("concepts leave out latents in most chunks and latents without a readable label", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 24; i++) files[`n${i}.md`] = `# Note ${i}\n\nShared words everywhere, and word${i} alone.\n`;
    files["zebra.md"] = "# Zebra\n\nShared words everywhere, and the zebra quokka.\n";
    const base = fakeEncoder();
    const [common] = (await base.encodeQuery("shared")).ids;
    const [zebra] = (await base.encodeQuery("zebra")).ids;
    const [quokka] = (await base.encodeQuery("quokka")).ids;
    // The pack's readable labels: quokka's latent has none.
    const encoder = Object.assign(base, { conceptLabels: base.labels!.map((l, i) => (i === quokka ? "" : l)) });
    const { loupe } = await setup(files, { watch: false, encoder });
    const hit = (await loupe.search({ query: "shared zebra quokka" })).hits[0]!;
    expect(hit.path).toBe("zebra.md");
    const ids = hit.concepts.map((c) => c.id);
    expect(ids).toContain(zebra);
    expect(ids).not.toContain(common);
    expect(ids).not.toContain(quokka);
  });

  it("an index chunked by an older chunker is chunked again on start-up, re-encoding nothing unchanged", async () => {
    const { loupe, root, cache } = await setup({
      "lib/response.js": "'use strict';\n\nres.format = function(obj){\n  var keys = Object.keys(obj);\n  return keys;\n};\n",
      "notes.md": "# Notes\n\nThe quokka is a small wallaby.\n",
    }, { watch: false });
    const { indexDir } = await loupe.rootStatus(loupe.rootList()[0]!);
    await loupe.close();
    // Make the table look written by chunker version 1 (tables before the version was recorded).
    const index = await Index.open(await FsDirectory.open(indexDir), { pack: fakeEncoder().fingerprint, analyzer: ANALYZER_VERSION });
    const { chunker, ...old } = index.commitData as { chunker: number };
    expect(chunker).toBe(CHUNKER_VERSION);
    await index.commit(old);
    await index.close();

    const again = fakeEncoder(); // an empty vector cache: vectors can only come from the index
    const l2 = new Loupe({ cacheDir: cache, encoder: again, rootOptions: { watch: false } });
    open.push(l2);
    const r = await l2.addRoot(root);
    await l2.whenIdle();
    expect(again.encoded).toEqual([]);
    expect(r.counters.reused).toBeGreaterThanOrEqual(2); // both files went through phase 1 again
    expect((await l2.search({ query: "format", mode: "lexical" })).hits[0]).toMatchObject({ path: "lib/response.js", symbol: "res.format" });
    await l2.close();
    const reopened = await Index.open(await FsDirectory.open(indexDir), { pack: fakeEncoder().fingerprint, analyzer: ANALYZER_VERSION });
    expect((reopened.commitData as { chunker: number }).chunker).toBe(CHUNKER_VERSION);
    await reopened.close();
  });

  it("rebuilds an index built with another model pack instead of mixing vectors", async () => {
    const { root, cache, loupe } = await setup({ "a.md": "apple\n" }, { watch: false });
    await loupe.close();
    const other = fakeEncoder("sha256:" + "1".repeat(64));
    const l2 = new Loupe({ cacheDir: cache, encoder: other, rootOptions: { watch: false } });
    open.push(l2);
    await l2.addRoot(root);
    await l2.whenIdle();
    expect(other.encoded.length).toBe(1);
    expect(await paths(l2, "apple")).toEqual(["a.md"]);
  });

  it("reads inside roots only, and explains and finds similar chunks", async () => {
    const { loupe, root, dir } = await setup({ "a.md": "one\ntwo\nthree\n", "b.md": "# Fruit\n\napple banana cherry\n", "c.md": "# More fruit\n\nbanana cherry date\n", ".env": "SECRET=1\n" });
    await writeFile(join(dir, "outside.txt"), "secret\n");
    await symlink(join(dir, "outside.txt"), join(root, "escape.txt"));
    expect(await loupe.read({ path: "a.md", startLine: 2, endLine: 3 })).toMatchObject({ path: "a.md", text: "two\nthree", totalLines: 3, startLine: 2, endLine: 3 });
    await expect(loupe.read({ path: "../outside.txt" })).rejects.toMatchObject({ code: "OUTSIDE_ROOTS" });
    await expect(loupe.read({ path: "../../../../etc/passwd" })).rejects.toMatchObject({ code: "OUTSIDE_ROOTS" });
    await expect(loupe.read({ path: "/etc/passwd" })).rejects.toMatchObject({ code: "OUTSIDE_ROOTS" });
    await expect(loupe.read({ path: "escape.txt" })).rejects.toMatchObject({ code: "OUTSIDE_ROOTS" });
    await expect(loupe.read({ path: "nope.md" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(loupe.read({ path: "a.md", startLine: 4 })).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
    const ex = await loupe.explain({ query: "banana", path: "b.md", line: 3 });
    expect(ex.lexical.map((t) => t.term)).toEqual(["banana"]);
    expect(ex.latents.length).toBeGreaterThan(0);
    expect(ex.hit).toMatchObject({ path: "b.md", symbol: "Fruit" });
    const sim = await loupe.similar({ path: "b.md", startLine: 3, endLine: 3 });
    expect(sim.hits[0]!.path).toBe("c.md");
    expect(sim.hits.some((h) => h.path === "b.md" && h.startLine <= 3 && h.endLine >= 3)).toBe(false);
  });

  it("trusts the latent channel by the share of the query the encoder can read: none of a Chinese query for a Latin-only encoder", async () => {
    const files = { "a.md": "# 数据库\n\n数据库 索引 重建 数据库 数据库\n", "b.md": "# 日志\n\n日志 轮转 数据库 索引 索引 索引\n" };
    const scores = async (readableScripts: ReadonlySet<string> | undefined) => {
      const encoder = Object.assign(fakeEncoder(), readableScripts ? { readableScripts } : {});
      const { loupe } = await setup(files, { watch: false, encoder });
      const query = "数据库 索引";
      const [a, b] = [await loupe.explain({ query, path: "a.md", line: 3 }), await loupe.explain({ query, path: "b.md", line: 3 })];
      // Both files are notes in a notes root: no role prior, no named symbol; b.md is below a.md in both channels.
      return { b: b.hit.score, lexN: b.lexicalScore / a.lexicalScore, latN: b.latentScore / a.latentScore };
    };
    const latinOnly = await scores(new Set(["Latin"]));
    expect(latinOnly.b).toBeCloseTo(latinOnly.lexN, 3);
    const everyScript = await scores(undefined);
    expect(everyScript.b).toBeCloseTo(0.7 * everyScript.lexN + 0.3 * everyScript.latN, 3);
    expect(Math.abs(everyScript.b - latinOnly.b)).toBeGreaterThan(0.01);
  });

  it("leaves the latent channel out where a question and a note were both read in translation from one language", async () => {
    const files = {
      "a.md": "# Brot\n\nDas Brot wird im heißen Ofen gebacken. Der Teig muss vorher lange ruhen, damit das Brot locker wird.\n",
      "b.md": "# Kuchen\n\nDer Kuchen wird im Ofen gebacken, aber nicht so lange wie das Brot. Zucker und Butter gehören in den Teig.\n",
    };
    const encoder = Object.assign(fakeEncoder(), { readableScripts: new Set(["Latin"]) });
    const { loupe } = await setup(files, { watch: false, encoder });
    // Each note's score as explain gives it, and each channel's score relative to the better of the two (notes in a notes root: no role prior, no named symbol).
    const scores = async (query: string) => {
      const [a, b] = [await loupe.explain({ query, path: "a.md", line: 3 }), await loupe.explain({ query, path: "b.md", line: 3 })];
      const lex = Math.max(a.lexicalScore, b.lexicalScore);
      const lat = Math.max(a.latentScore, b.latentScore);
      return [a, b].map((x) => ({ score: x.hit.score, lexN: x.lexicalScore / lex, latN: x.latentScore / lat }));
    };
    // A German question over German notes: both sides are German read through their glosses, so each note scores by its words.
    const german = await scores("Wie lange wird das Brot im Ofen gebacken?");
    for (const n of german) expect(n.score).toBeCloseTo(n.lexN, 3);
    expect(german.some((n) => Math.abs(n.latN - n.lexN) > 0.01)).toBe(true); // the latent channel would have moved them
    // An English question finds the same German notes through their glosses: both channels count.
    const english = await scores("how long is bread baked in the oven");
    for (const n of english) expect(n.score).toBeCloseTo(0.7 * n.lexN + 0.3 * n.latN, 3);
    expect(english.some((n) => Math.abs(n.latN - n.lexN) > 0.01)).toBe(true);
    // Search ranks as explain scores.
    const hits = (await loupe.search({ query: "Wie lange wird das Brot im Ofen gebacken?" })).hits;
    expect(hits.map((h) => h.path)).toEqual(german[0]!.score >= german[1]!.score ? ["a.md", "b.md"] : ["b.md", "a.md"]);
  });

  it("answers unknown roots with NOT_FOUND and missing folders with WORKSPACE_ROOT", async () => {
    // Malformed parameters never reach the core: the daemon refuses them at its edge (unit/protocol-schemas.test.ts).
    const { loupe } = await setup({ "a.md": "x\n" }, { watch: false });
    await expect(loupe.search({ query: "x", roots: ["/nowhere"] })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(loupe.addRoot("/nowhere/at/all")).rejects.toMatchObject({ code: "WORKSPACE_ROOT" });
  });

  it("refuses what only the core can judge (a broken glob, a line past the end), naming it, without echoing other roots", async () => {
    // Shapes and sizes are refused at the daemon's edge by the protocol's schemas (unit/protocol-schemas.test.ts, faults/oversized-inputs.test.ts).
    const { loupe, dir } = await setup({ "a.md": "# A\n\nkiwi\n" }, { watch: false });
    const other = join(dir, "other-secret-project");
    await mkdir(other);
    await loupe.addRoot(other);
    const encodedBefore = (loupe.encoder as ReturnType<typeof fakeEncoder>).encoded.length;
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ["invalid glob", () => loupe.search({ query: "kiwi", paths: ["[invalid"] }), /paths: "\[invalid" is not a valid glob/],
      ["invalid exclude glob", () => loupe.search({ query: "kiwi", exclude: ["a/[b"] }), /exclude: "a\/\[b" is not a valid glob/],
      ["line past the end", () => loupe.read({ path: "a.md", startLine: 40 }), /startLine must be from 1 to 3 \(the last line of a\.md\), got 40/],
      ["end before start", () => loupe.read({ path: "a.md", startLine: 3, endLine: 2 }), /endLine must be at least startLine \(3\), got 2/],
    ];
    for (const [name, call, message] of cases) {
      const e = (await call().then(() => null, (x: unknown) => x)) as { code: string; message: string } | null;
      expect(e, name).not.toBeNull();
      expect(e!.code, name).toBe("BAD_ARGUMENT");
      expect(e!.message, name).toMatch(message);
      expect(e!.message.length, name).toBeLessThan(500);
    }
    // Nothing refused reached the encoder.
    expect((loupe.encoder as ReturnType<typeof fakeEncoder>).encoded.length).toBe(encodedBefore);
    // Errors name no other root (a client may serve only some of them).
    const outside = await loupe.read({ path: "/etc/passwd" }).catch((x: Error) => x);
    expect((outside as Error).message).not.toContain(other);
    const unknown = await loupe.search({ query: "kiwi", roots: ["/nowhere"] }).catch((x: Error) => x);
    expect((unknown as Error).message).not.toContain(other);
    expect((unknown as Error).message).toMatch(/loupe index \/nowhere/);
  });

  it("bounds what read returns and what similar encodes", async () => {
    const long = Array.from({ length: 3000 }, (_, i) => `line ${i + 1} of the long note about kiwi`).join("\n");
    const { loupe, encoder } = await setup({ "long.md": long + "\n" }, { watch: false });
    const r = await loupe.read({ path: "long.md", startLine: 1, endLine: 3000 });
    expect(r).toMatchObject({ startLine: 1, endLine: 2000, totalLines: 3000 });
    const before = encoder.encoded.length;
    await loupe.similar({ path: "long.md", startLine: 1, endLine: 3000 });
    expect(encoder.encoded.slice(before).every((t) => t.length <= 8000)).toBe(true);
  });

  it("reports progress through both phases: files by their words, then files with latent vectors", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 100; i++) files[`n${i}.md`] = `# Note ${i}\n\nplum ${i}\n`;
    const done: number[] = [];
    const ready: number[] = [];
    const dir = await mkdtemp(join(tmpdir(), "loupe-core-"));
    const root = join(dir, "ws");
    for (const [p, text] of Object.entries(files)) {
      await mkdir(join(root, p, ".."), { recursive: true });
      await writeFile(join(root, p), text);
    }
    const loupe = new Loupe({
      cacheDir: join(dir, "cache"), encoder: fakeEncoder(), rootOptions: { watch: false },
      onRootChange: (s) => (s.progress ? done.push(s.progress.done) : ready.push(s.latent.ready)),
    });
    open.push(loupe);
    await loupe.addRoot(root);
    await loupe.whenIdle();
    // Words: batches of 64 files. Vectors: commits of 16 files each, the last one reported at the end.
    expect(new Set(done)).toEqual(new Set([64, 100]));
    expect(ready.filter((n) => n < 100)).toEqual([16, 32, 48, 64, 80, 96]);
    expect(ready.at(-1)).toBe(100);
  });

  it("adding one root twice at once opens it once", async () => {
    const { loupe, dir } = await setup({ "a.md": "x\n" }, { watch: false });
    const other = join(dir, "twice");
    await mkdir(other);
    await writeFile(join(other, "b.md"), "# B\n\nquince\n");
    const [one, two] = await Promise.all([loupe.addRoot(other), loupe.addRoot(other, { session: {} })]);
    expect(one).toBe(two);
    await loupe.whenIdle();
    expect(await paths(loupe, "quince")).toEqual(["b.md"]);
  });

  describe("two phases: words first, latent vectors after", () => {
    /** The fake encoder behind a gate: document encoding waits until `open` (or fails on `fail`). */
    function gated() {
      const inner = fakeEncoder();
      let open!: () => void;
      let fail!: (e: Error) => void;
      const gate = new Promise<void>((resolve, reject) => ((open = resolve), (fail = reject)));
      gate.catch(() => {});
      const encoder: ReturnType<typeof fakeEncoder> = { ...inner, encoded: inner.encoded, encodeDocuments: async (texts) => (await gate, inner.encodeDocuments(texts)) };
      return { encoder, open: () => open(), fail: () => fail(new Error("killed")) };
    }

    async function tree(n: number): Promise<{ dir: string; root: string }> {
      const dir = await mkdtemp(join(tmpdir(), "loupe-core-"));
      const root = join(dir, "ws");
      await mkdir(root, { recursive: true });
      for (let i = 0; i < n; i++) await writeFile(join(root, `n${i}.md`), `# Note ${i}\n\nThe keeper${i} trims the lamp wick at dusk.\n`);
      return { dir, root };
    }

    it("a file is searchable by its words before its latent vector exists; the vector arrives later", async () => {
      const { dir, root } = await tree(20);
      const g = gated();
      const loupe = new Loupe({ cacheDir: join(dir, "cache"), encoder: g.encoder, rootOptions: { watch: false } });
      open.push(loupe);
      const r = await loupe.addRoot(root);
      await eventually(async () => expect(r.status(0)).toMatchObject({ files: 20, latent: { ready: 0, total: 20 } }));
      const lexical = await loupe.search({ query: "keeper7", mode: "lexical" });
      expect(lexical.hits[0]!.path).toBe("n7.md");
      expect(lexical.indexing).toMatchObject({ latent: { ready: 0, total: 20 } });
      expect((await loupe.search({ query: "keeper7", mode: "latent" })).hits).toEqual([]);
      // Hybrid ranks the vectorless chunks by their words, at full strength rather than penalised.
      const hybrid = await loupe.search({ query: "keeper7" });
      expect(hybrid.hits[0]).toMatchObject({ path: "n7.md", score: 1 });
      g.open();
      await loupe.whenIdle();
      expect(r.status(0).latent).toEqual({ ready: 20, total: 20 });
      expect((await loupe.search({ query: "keeper7 lamp", mode: "latent" })).hits.length).toBeGreaterThan(0);
      expect((await loupe.search({ query: "keeper7" })).indexing).toBeNull();
    });

    it("stopped between the phases, a restart computes only the missing vectors and redoes nothing else", async () => {
      const { dir, root } = await tree(12);
      const g = gated();
      const first = new Loupe({ cacheDir: join(dir, "cache"), encoder: g.encoder, rootOptions: { watch: false } });
      const r = await first.addRoot(root);
      await eventually(async () => expect(r.status(0)).toMatchObject({ files: 12, latent: { ready: 0, total: 12 } }));
      g.fail(); // the process "dies" before any vector is written
      await first.close();

      const encoder = fakeEncoder();
      const second = new Loupe({ cacheDir: join(dir, "cache"), encoder, rootOptions: { watch: false } });
      open.push(second);
      const again = await second.addRoot(root);
      await second.whenIdle();
      expect(again.status(0)).toMatchObject({ files: 12, chunks: 12, latent: { ready: 12, total: 12 } });
      // Each chunk encoded once, and no file read and chunked again (phase 1 found them all unchanged).
      expect(encoder.encoded).toHaveLength(12);
      expect(again.counters.reused).toBe(0);
      expect((await second.search({ query: "keeper3 wick", mode: "latent" })).hits.map((h) => h.path)).toContain("n3.md");
    });
  });
});
