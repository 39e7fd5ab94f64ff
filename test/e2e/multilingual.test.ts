// Tier: end-to-end. The bridge across languages as a note-taker meets it: a real daemon (started
// by the CLI), the default pack, the shipped dictionary tables and language detector, over a
// small vault in German, English and Chinese (fixtures/vault-multilingual). An English question
// finds the German note and a Chinese question the English one, in hybrid search (what users
// get) and in lexical search alone, where nothing else could find them: the notes share no word
// with the questions except through the dictionaries.
import { cp, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLoupe } from "../support/cli.js";

const VAULT = new URL("../../fixtures/vault-multilingual", import.meta.url).pathname;

let dir: string;
let root: string;
let env: NodeJS.ProcessEnv;

const loupe = (...args: string[]) => runLoupe(env, ...args);
const search = async (query: string, mode = "hybrid") => {
  const r = await loupe("search", query, "--mode", mode, "--json");
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { hits: Array<{ path: string; snippet: string }> }).hits;
};

beforeAll(async () => {
  dir = await mkdtemp("/tmp/loupe-ml-");
  root = join(dir, "vault");
  await cp(VAULT, root, { recursive: true });
  env = { ...process.env, LOUPE_CACHE_DIR: join(dir, "cache"), LOUPE_RUNTIME_DIR: join(dir, "run") };
  delete env.LOUPE_SOCKET;
  const r = await loupe("index", root);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(async () => {
  await loupe("daemon", "stop");
  await rm(dir, { recursive: true, force: true });
});

describe("a vault in three languages", () => {
  it("finds a German note from an English question", async () => {
    const q = "how do I feed the sourdough starter before baking bread";
    expect((await search(q))[0]?.path).toBe("Rezepte/Sauerteigbrot.md");
    expect((await search(q, "lexical"))[0]?.path).toBe("Rezepte/Sauerteigbrot.md");
  });

  it("finds an English note from a Chinese question", async () => {
    const q = "番茄应该多久浇一次水";
    expect((await search(q))[0]?.path).toBe("garden/tomatoes.md");
    expect((await search(q, "lexical"))[0]?.path).toBe("garden/tomatoes.md");
  });

  it("still finds notes in their own language, and says which languages it bridges", async () => {
    expect((await search("Fahrradreifen flicken Schlauch"))[0]?.path).toBe("Werkstatt/Fahrradreifen.md");
    expect((await search("手冲咖啡的水温"))[0]?.path).toBe("笔记/手冲咖啡.md");
    const status = await loupe("status", "--json");
    expect(JSON.parse(status.stdout).bridged).toEqual(expect.arrayContaining(["de", "zh"]));
    expect((await loupe("status")).stdout).toMatch(/bridged .*German \(de\).*⇄ English/);
  });
});
