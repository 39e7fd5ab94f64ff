// Tier: end-to-end. The built `loupe` executable in a real child process, as a user runs it
// (needs `npm run build`, which `npm test` does first).
import { execFile } from "node:child_process";
import { mkdtemp, writeFile, cp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { TEST_CACHE, testPack } from "../support/default-pack.js";
import { DEFAULT_TOP_K } from "../../daemon/src/model/default-pack.js";

const BIN = new URL("../../daemon/bin/loupe.js", import.meta.url).pathname;
const TINY = new URL("../../fixtures/eval/tiny", import.meta.url).pathname;
const TASKS = new URL("../../fixtures/tasks", import.meta.url).pathname;

async function loupe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: { ...process.env, LOUPE_CACHE_DIR: TEST_CACHE },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  await testPack(); // convert once, outside the timed CLI calls
});

describe("loupe eval", () => {
  it.each(["lexical", "dense", "latent", "hybrid"])("prints one JSON object in --json mode (%s)", async (mode) => {
    const r = await loupe("eval", "--set", TINY, "--mode", mode, "--json", "--quiet");
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(Object.keys(result).sort()).toEqual(["mode", "mrr@10", "ndcg@10", "queries", "recall@100", "seconds", "set"].sort());
    expect(result).toMatchObject({ set: TINY, mode, queries: 6 });
    // Six easy queries over eight documents. Lexical and hybrid get nearly all; the other
    // channels must at least beat a random ranking (expected nDCG@10 ≈ 0.4 here).
    expect(result["ndcg@10"]).toBeGreaterThan(mode === "lexical" || mode === "hybrid" ? 0.9 : 0.45);
    if (mode !== "latent") expect(result["recall@100"]).toBe(1);
  });
  it("prints a readable summary without --json", async () => {
    const r = await loupe("eval", "--set", TINY, "--mode", "lexical");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nDCG@10 \d\.\d{4}\s+MRR@10 \d\.\d{4}\s+R@100 \d\.\d{4}/);
  });
  it("rejects a missing or unknown mode and a missing set", async () => {
    expect(await loupe("eval", "--set", TINY)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--mode is required/) });
    expect(await loupe("eval", "--set", TINY, "--mode", "magic")).toMatchObject({ code: 2, stderr: expect.stringMatching(/lexical, dense/) });
    expect(await loupe("eval", "--set", "/nonexistent", "--mode", "lexical")).toMatchObject({ code: 1, stderr: expect.stringMatching(/corpus\.jsonl/) });
  });
});

describe("loupe eval --tasks", () => {
  it("indexes the fixture repository with the default pack and judges every question", async () => {
    const r = await loupe("eval", "--tasks", `${TASKS}/shop.json`, "--repos", `${TASKS}/repos`, "--json", "--quiet");
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ mode: "hybrid", k: 10, overall: { tasks: 4 }, repos: [{ id: "shop", tasks: 4 }] });
    expect(result.outcomes.map((o: { id: string }) => o.id)).toEqual(["shop-01", "shop-02", "shop-03", "shop-04"]);
    // Four plain questions over four files: each answering file is on the page.
    for (const o of result.outcomes) expect(o.fileRank).not.toBeNull();
    expect(result.overall.lines_top10).toBeGreaterThanOrEqual(0.75);
    const text = await loupe("eval", "--tasks", TASKS, "--repos", `${TASKS}/repos`, "--mode", "lexical", "--quiet");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/lines@1 lines@3 lines@10 file@3/);
    expect(text.stdout).toMatch(/^all\s+4\s/m);
  });
  it("names a missing checkout with its pinned commit, and refuses --tasks without --repos", async () => {
    const r = await loupe("eval", "--tasks", TASKS, "--repos", "/nonexistent", "--quiet");
    expect(r).toMatchObject({ code: 2, stderr: expect.stringMatching(/loupe-fixtures\/shop at commit 0{40}/) });
    expect(await loupe("eval", "--tasks", TASKS)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--repos/) });
  });
});

describe("loupe encode", () => {
  it("prints active latents with weights and labels", async () => {
    const r = await loupe("encode", "open a database connection and run a query", "--json", "--quiet");
    expect(r.code).toBe(0);
    const { latents } = JSON.parse(r.stdout);
    expect(latents.length).toBeGreaterThan(0);
    expect(latents.length).toBeLessThanOrEqual(400);
    for (const l of latents) {
      expect(Object.keys(l).sort()).toEqual(["id", "label", "weight"]);
      expect(l.weight).toBeGreaterThan(0);
    }
    expect(latents.filter((l: { label: string }) => l.label !== "").length).toBeGreaterThan(latents.length / 2);
    const weights = latents.map((l: { weight: number }) => l.weight);
    expect(weights).toEqual([...weights].sort((a, b) => b - a));
  });
  it("uses the query Top-K with --query and honours --k", async () => {
    const q = JSON.parse((await loupe("encode", "open a database connection and run a query", "--query", "--json", "--quiet")).stdout);
    // More latents than K have positive weight in any real text, so the cut is exactly K.
    expect(q.latents.length).toBe(DEFAULT_TOP_K.query);
    const k = JSON.parse((await loupe("encode", "open a database connection", "--k", "5", "--json", "--quiet")).stdout);
    expect(k.latents.length).toBeLessThanOrEqual(5);
    expect((await loupe("encode", "x", "--k", "0")).code).toBe(2);
  });
});

describe("loupe pack", () => {
  it("reports the default pack and the provider it runs on", async () => {
    const r = await loupe("pack", "--json", "--provider", "cpu");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.provider).toBe("cpu");
    expect(info.manifest).toMatchObject({ name: "use-lite-en", maxTokens: 128, hiddenSize: 512 });
    expect(info.manifest.fingerprint).toMatch(/^sha256:/);
    expect(info.readableScripts).toEqual(["Latin"]);
    expect(info.bridged).toEqual(["ar", "de", "el", "es", "hi", "ru", "tr", "zh"]);
    const text = await loupe("pack", "--provider", "cpu");
    expect(text.stdout).toMatch(/bridged +Arabic \(ar\), German \(de\).*Chinese \(zh\) ⇄ English/);
  });
  it("refuses a damaged pack with an actionable message", async () => {
    const pack = await testPack();
    const copy = await mkdtemp(join(tmpdir(), "loupe-damaged-"));
    await cp(pack.dir, copy, { recursive: true });
    const vocab = await readFile(join(copy, "vocab.json"), "utf8");
    await writeFile(join(copy, "vocab.json"), vocab.replace("▁the", "▁teh"));
    const r = await loupe("pack", "--pack", copy);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not match its fingerprint.*Restore the pack/);
  });
});
