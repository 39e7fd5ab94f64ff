// Tier: end-to-end (the `loupe` CLI in a child process, the real default pack). `loupe opensearch
// push`, `search` and `status` against the recording stand-in (test/support/fake-opensearch.ts)
// always; against a real cluster only when LOUPE_TEST_OPENSEARCH_URL names one (a throwaway
// index, deleted afterwards). A user's own LOUPE_OPENSEARCH_URL is never used by tests.
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, runLoupe } from "../support/cli.js";
import { TEST_CACHE } from "../support/default-pack.js";
import { eventually } from "../support/eventually.js";
import { FakeOpenSearch } from "../support/fake-opensearch.js";

const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;
let dir: string;
let root: string;
let env: NodeJS.ProcessEnv;
const loupe = (...args: string[]) => runLoupe(env, ...args);

beforeAll(async () => {
  dir = await mkdtemp("/tmp/loupe-os-e2e-");
  root = join(dir, "shop");
  await cp(WORKSPACE, root, { recursive: true });
  // The default pack converted once for the test run (TEST_CACHE), not into a user's cache.
  env = { ...process.env, LOUPE_CACHE_DIR: TEST_CACHE, LOUPE_RUNTIME_DIR: join(dir, "run") };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loupe opensearch against the stand-in", () => {
  let cluster: FakeOpenSearch;
  beforeAll(async () => {
    cluster = await new FakeOpenSearch().start();
  });
  afterAll(() => cluster.stop());

  it("pushes a folder, reports it, and searches it from the command line", async () => {
    const push = await loupe("opensearch", "push", root, "--url", cluster.url, "--index", "team", "--quiet", "--json");
    expect(push.code, push.stderr).toBe(0);
    const pushed = JSON.parse(push.stdout) as { root: string; files: number; changed: number; chunks: number };
    expect(pushed).toMatchObject({ root: "shop" });
    expect(pushed.changed).toBe(pushed.files);
    expect(cluster.docs("team")).toHaveLength(pushed.chunks);
    const status = await loupe("opensearch", "status", "--url", cluster.url, "--index", "team");
    expect(status.stdout).toMatch(new RegExp(`team: ${pushed.chunks} chunks, model pack use-lite-en`));
    const search = await loupe("opensearch", "search", "cart total", "--url", cluster.url, "--index", "team", "--json", "--quiet");
    expect(search.code, search.stderr).toBe(0);
    const { hits } = JSON.parse(search.stdout) as { hits: Array<{ root: string; path: string }> };
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => h.root === "shop")).toBe(true);
    const text = await loupe("opensearch", "search", "cart total", "--url", cluster.url, "--index", "team", "--quiet");
    expect(text.stdout).toMatch(/^shop\/\S+:\d+-\d+ {2}\d\.\d{3}/m);
  });

  it("says what is wrong: no URL, a bad index name, an unreachable cluster", async () => {
    const none = await loupe("opensearch", "search", "x");
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/needs --url URL \(or LOUPE_OPENSEARCH_URL\)/);
    expect((await loupe("opensearch", "status", "--url", cluster.url, "--index", "Bad")).stderr).toMatch(/not an OpenSearch index name/);
    const down = await loupe("opensearch", "status", "--url", "http://127.0.0.1:9", "--index", "team");
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(/cannot be reached .* after 6 tries/);
  }, 120_000);
});

describe("the daemon's shared index, from every surface", () => {
  let cluster: FakeOpenSearch;
  let denv: NodeJS.ProcessEnv;
  beforeAll(async () => {
    cluster = await new FakeOpenSearch().start();
    denv = { ...env, LOUPE_RUNTIME_DIR: join(dir, "run-cluster"), LOUPE_CACHE_DIR: join(dir, "cache-cluster") };
    const push = await runLoupe({ ...denv, LOUPE_CACHE_DIR: TEST_CACHE }, "opensearch", "push", root, "--url", cluster.url, "--index", "team", "--quiet");
    expect(push.code, push.stderr).toBe(0);
    // Another machine's root, pushed under its own name.
    const other = await runLoupe({ ...denv, LOUPE_CACHE_DIR: TEST_CACHE }, "opensearch", "push", join(WORKSPACE, "notes"), "--url", cluster.url, "--index", "team", "--name", "handbook", "--quiet");
    expect(other.code, other.stderr).toBe(0);
    const index = await runLoupe(denv, "index", root, "--opensearch", cluster.url, "--opensearch-index", "team", "--quiet");
    expect(index.code, index.stderr).toBe(0);
  });
  afterAll(async () => {
    await runLoupe(denv, "daemon", "stop");
    await cluster.stop();
  });

  it("CLI: loupe search --cluster answers from the cluster; status names it", async () => {
    const status = await runLoupe(denv, "status");
    expect(status.stdout).toMatch(new RegExp(`cluster ${cluster.url.replace(/[.]/g, "\\.")}, index team`));
    const r = await runLoupe(denv, "search", "cart total", "--cluster", "--json");
    expect(r.code, r.stderr).toBe(0);
    const hits = (JSON.parse(r.stdout) as { hits: Array<{ root: string; file: string; path: string; snippet: string }> }).hits;
    expect(hits.length).toBeGreaterThan(0);
    // A root this daemon serves too points at the local file; another machine's root is named by the index.
    const ours = hits.filter((h) => h.root === root);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((h) => h.file === join(root, h.path) && h.snippet.length > 0)).toBe(true);
    const handbook = await runLoupe(denv, "search", "onboarding", "--cluster", "--root", "handbook", "--json");
    const theirs = (JSON.parse(handbook.stdout) as { hits: Array<{ root: string; file: string; path: string }> }).hits;
    expect(theirs.length).toBeGreaterThan(0);
    expect(theirs.every((h) => h.root === "team:handbook" && h.file === `handbook/${h.path}`)).toBe(true);
    // Path globs apply on the cluster too.
    const md = await runLoupe(denv, "search", "cart total", "--cluster", "--path", "**/*.md", "--json");
    expect((JSON.parse(md.stdout) as { hits: Array<{ path: string }> }).hits.every((h) => h.path.endsWith(".md"))).toBe(true);
  });

  it("MCP: the search tool takes scope \"cluster\"", async () => {
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--root", root], env: denv as Record<string, string>, stderr: "ignore" });
    const client = new Client({ name: "loupe-test", version: "0" });
    await client.connect(transport);
    try {
      const r = (await client.callTool({ name: "search", arguments: { query: "onboarding", scope: "cluster", roots: ["handbook"] } })) as { structuredContent?: { hits: Array<{ root: string }> }; isError?: boolean };
      expect(r.isError).toBeFalsy();
      expect(r.structuredContent!.hits.length).toBeGreaterThan(0);
      expect(r.structuredContent!.hits.every((h) => h.root === "team:handbook")).toBe(true);
      const bad = (await client.callTool({ name: "search", arguments: { query: "x", scope: "everywhere" } })) as { isError?: boolean; content: Array<{ text: string }> };
      expect(bad.isError).toBe(true);
      expect(bad.content[0]!.text).toMatch(/scope must be one of local, cluster/);
    } finally {
      await client.close();
    }
  });

  it("LSP: loupe/search with scope \"cluster\" is not narrowed to the editor's folders", async () => {
    const { spawn } = await import("node:child_process");
    const { createMessageConnection, InitializeRequest, InitializedNotification, StreamMessageReader, StreamMessageWriter } = await import("vscode-languageserver-protocol/node");
    const editor = spawn(process.execPath, [BIN, "lsp"], { env: denv, stdio: ["pipe", "pipe", "ignore"] });
    const conn = createMessageConnection(new StreamMessageReader(editor.stdout!), new StreamMessageWriter(editor.stdin!));
    conn.listen();
    try {
      await conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, workspaceFolders: [{ uri: `file://${root}`, name: "shop" }], capabilities: {} });
      await conn.sendNotification(InitializedNotification.type, {});
      const all = (await conn.sendRequest("loupe/search", { query: "onboarding checkout cart", scope: "cluster", k: 50 })) as { hits: Array<{ root: string }> };
      const roots = new Set(all.hits.map((h) => h.root));
      expect(roots.has("team:handbook")).toBe(true); // another machine's root: the editor's folder does not narrow it
      const local = (await conn.sendRequest("loupe/search", { query: "onboarding checkout cart", k: 50 })) as { hits: Array<{ root: string }> };
      expect(local.hits.every((h) => h.root === root)).toBe(true);
    } finally {
      conn.dispose();
      editor.kill();
    }
  });

  it("a daemon without a cluster says how to get one", async () => {
    const plain = { ...env, LOUPE_RUNTIME_DIR: join(dir, "run-plain"), LOUPE_CACHE_DIR: join(dir, "cache-plain") };
    await runLoupe(plain, "index", root, "--quiet");
    const r = await runLoupe(plain, "search", "cart", "--cluster");
    await runLoupe(plain, "daemon", "stop");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no OpenSearch index: start it with --opensearch URL/);
  });
});

describe("a daemon that feeds its roots into the shared index (--opensearch-push)", () => {
  let cluster: FakeOpenSearch;
  let fenv: NodeJS.ProcessEnv;
  let feed: string;
  beforeAll(async () => {
    cluster = await new FakeOpenSearch().start();
    feed = join(dir, "feed");
    await cp(WORKSPACE, feed, { recursive: true });
    fenv = { ...env, LOUPE_RUNTIME_DIR: join(dir, "run-feed"), LOUPE_CACHE_DIR: join(dir, "cache-feed") };
  });
  afterAll(async () => {
    await runLoupe(fenv, "daemon", "stop");
    await cluster.stop();
  });

  it("pushes a root once it is indexed, and again after a change", async () => {
    const r = await runLoupe(fenv, "index", feed, "--opensearch", cluster.url, "--opensearch-index", "team", "--opensearch-push", "--quiet");
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse((await runLoupe(fenv, "status", "--json")).stdout) as { roots: Array<{ chunks: number }> };
    await eventually(async () => expect(cluster.docs("team").filter((d) => d.root === "feed")).toHaveLength(status.roots[0]!.chunks), 60_000);
    await writeFile(join(feed, "notes", "zanzibar.md"), "# Zanzibar\n\nThe quokka protocol settles every ledger.\n");
    await eventually(async () => expect(cluster.docs("team").some((d) => d.path === "notes/zanzibar.md" && String(d.terms).includes("quokka"))).toBe(true), 60_000);
    const text = await runLoupe(fenv, "status");
    expect(text.stdout).toMatch(/roots pushed when they settle \(last: feed at .*: 1 files changed, 0 removed\)/);
    const found = await runLoupe(fenv, "search", "quokka ledger", "--cluster", "--json");
    expect((JSON.parse(found.stdout) as { hits: Array<{ path: string }> }).hits[0]?.path).toBe("notes/zanzibar.md");
  }, 120_000);
});

const REAL = process.env.LOUPE_TEST_OPENSEARCH_URL;
describe.skipIf(!REAL)("loupe opensearch against a real cluster (LOUPE_TEST_OPENSEARCH_URL)", () => {
  const index = `loupe-test-${process.pid}-${Date.now()}`;
  afterAll(async () => {
    const { OpenSearchClient } = await import("../../daemon/src/opensearch/client.js");
    await new OpenSearchClient({ url: REAL!, index }).deleteIndex();
  });

  it("pushes, pushes again with nothing to do, and finds the cart code", async () => {
    const push = await loupe("opensearch", "push", root, "--url", REAL!, "--index", index, "--quiet", "--json");
    expect(push.code, push.stderr).toBe(0);
    const again = await loupe("opensearch", "push", root, "--url", REAL!, "--index", index, "--quiet", "--json");
    expect(JSON.parse(again.stdout)).toMatchObject({ changed: 0, removed: 0 });
    for (const mode of ["lexical", "latent", "hybrid"]) {
      const s = await loupe("opensearch", "search", "cart total price", "--url", REAL!, "--index", index, "--mode", mode, "--json", "--quiet");
      expect(s.code, s.stderr).toBe(0);
      expect((JSON.parse(s.stdout) as { hits: unknown[] }).hits.length, mode).toBeGreaterThan(0);
    }
  }, 300_000);
});
