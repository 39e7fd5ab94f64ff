// Tier: end-to-end. A pack built by `loupe pack build` (the CLI, on a tiny random BERT-like
// encoder and SAEs in the published formats, test/support/tiny-encoders.ts) is what a real daemon
// encodes with when started with --pack: it indexes a folder and serves searches; the CLI shows
// the pack; and starting the daemon with another pack rebuilds the root's index with it, since
// vectors of two packs never mix.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLoupe } from "../support/cli.js";
import { randomSae, tinyBert, wordPieceTokenizer, writeGemmaScope, writeLlamaScope } from "../support/tiny-encoders.js";

const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;

let dir: string;
let root: string;
let env: NodeJS.ProcessEnv;
const loupe = (...args: string[]) => runLoupe(env, ...args);

beforeAll(async () => {
  dir = await mkdtemp("/tmp/loupe-pb-");
  root = join(dir, "ws");
  await cp(WORKSPACE, root, { recursive: true });
  env = { ...process.env, LOUPE_CACHE_DIR: join(dir, "cache"), LOUPE_RUNTIME_DIR: join(dir, "run") };
  delete env.LOUPE_SOCKET;
  const tok = wordPieceTokenizer();
  await mkdir(join(dir, "bert"));
  await writeFile(join(dir, "bert", "model.onnx"), tinyBert(tok.size).onnx);
  await writeFile(join(dir, "bert", "tokenizer.json"), JSON.stringify(tok.json));
  await writeLlamaScope(join(dir, "llama-scope"), randomSae(16, 64, 3), { act_fn: "jumprelu", jump_relu_threshold: 0.1, averageNorm: 3, layer: 1 });
  await writeGemmaScope(join(dir, "gemma-scope", "layer_2"), randomSae(16, 64, 4));
});

afterAll(async () => {
  await loupe("daemon", "stop");
  await rm(dir, { recursive: true, force: true });
});

const build = (out: string, sae: string, ...extra: string[]) =>
  loupe("pack", "build", "--onnx", join(dir, "bert", "model.onnx"), "--tokenizer", join(dir, "bert", "tokenizer.json"), "--sae", sae, "--out", out, "--max-tokens", "64", "--top-k", "16,48", ...extra);

describe("loupe pack build, then a daemon on the pack", () => {
  it("builds a pack from the command line, with labels from a corpus", async () => {
    const r = await build(join(dir, "pack-a"), join(dir, "llama-scope"), "--layer", "1", "--labels-corpus", join(root, "notes"), "--query-prefix", "query: ", "--name", "tiny-bert", "--languages", "en,de");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(dir, "pack-a"));
    expect(r.stderr).toMatch(/Llama Scope jumprelu SAE \(64 latents over 16 dims/);
    expect(r.stderr).toMatch(/layer 1 of 3: tapping \/encoder\/layer\.1\//);
    const shown = await loupe("pack", "--pack", join(dir, "pack-a"));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^tiny-bert /);
    expect(shown.stdout).toMatch(/tokenizer +Hugging Face tokenizer\.json, 1 \+ 1 special tokens per window, queries read as "query: …"/);
    expect(shown.stdout).toMatch(/languages +en, de \(in another bridged language/);
    expect(shown.stdout).toMatch(/sparse head layer 1 \(\/encoder\/layer\.1\/.*\), SAE 64 jumprelu, float; top-k 16\/48; labels yes/);
    const labels = JSON.parse(await readFile(join(dir, "pack-a", "labels.json"), "utf8")) as { labels: string[] };
    expect(labels.labels).toHaveLength(64);
    expect(labels.labels.filter(Boolean).length).toBeGreaterThan(32);
    const encoded = await loupe("encode", "the daemon writes the index", "--pack", join(dir, "pack-a"), "--json");
    expect(encoded.code, encoded.stderr).toBe(0);
    const latents = (JSON.parse(encoded.stdout) as { latents: Array<{ id: number; weight: number; label: string }> }).latents;
    expect(latents.length).toBeGreaterThan(0);
    expect(latents.some((l) => l.label.length > 0)).toBe(true);
  });

  it("a daemon started with --pack indexes and searches with it", async () => {
    const r = await loupe("index", root, "--pack", join(dir, "pack-a"));
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse((await loupe("status", "--json")).stdout) as { pack: { name: string; fingerprint: string }; roots: Array<{ files: number; chunks: number }> };
    const manifest = JSON.parse(await readFile(join(dir, "pack-a", "manifest.json"), "utf8")) as { fingerprint: string };
    expect(status.pack).toMatchObject({ name: "tiny-bert", fingerprint: manifest.fingerprint });
    expect(status.roots[0]!.files).toBeGreaterThan(3);
    for (const mode of ["hybrid", "latent"]) {
      const s = await loupe("search", "search the index", "--mode", mode, "--json");
      expect(s.code, s.stderr).toBe(0);
      expect((JSON.parse(s.stdout) as { hits: unknown[] }).hits.length, mode).toBeGreaterThan(0);
    }
  });

  it("another pack rebuilds the root's index with its own vectors", async () => {
    const b = await build(join(dir, "pack-b"), join(dir, "gemma-scope", "layer_2", "params.npz"), "--precision", "int8-all");
    expect(b.code, b.stderr).toBe(0);
    expect((await loupe("daemon", "stop")).code).toBe(0);
    const before = JSON.parse((await loupe("status", "--json", "--pack", join(dir, "pack-a"))).stdout) as { roots: Array<{ files: number }> };
    expect((await loupe("daemon", "stop")).code).toBe(0);
    const r = await loupe("index", root, "--pack", join(dir, "pack-b"));
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse((await loupe("status", "--json")).stdout) as { pack: { fingerprint: string }; roots: Array<{ files: number; state: string }> };
    const manifest = JSON.parse(await readFile(join(dir, "pack-b", "manifest.json"), "utf8")) as { fingerprint: string };
    expect(status.pack.fingerprint).toBe(manifest.fingerprint);
    expect(status.roots[0]!.files).toBe(before.roots[0]!.files);
    const log = await readFile(join(dir, "cache", "daemon.log"), "utf8");
    expect(log).toMatch(/was built with model pack sha256:.*rebuilding the index from the files/);
    const s = await loupe("search", "search the index", "--mode", "latent", "--json");
    expect((JSON.parse(s.stdout) as { hits: unknown[] }).hits.length).toBeGreaterThan(0);
  });
});
