// Tier: fault. 50 concurrent clients while a root indexes: a real daemon process (started with
// the CLI, the default model pack) is given a workspace of fixtures/workspace plus 300 generated
// notes without waiting, and at once 50 DaemonClient connections run loops of mixed requests
// (search in every mode, status, read, explain and similar on a hit) for a few seconds while the
// first indexing runs. Every request is answered without error (partial results, `indexing`
// non-null, are fine), the daemon lives on, status counts 50+ clients, and once the root is
// watching every file is indexed (as many as `loupe ls-files` lists) and all 50 clients search,
// explain and similar at once on the complete index. The load's request latencies (p50, p95,
// max), its request count and the daemon's VmHWM go to $LOUPE_FAULTS_REPORT when it is set.
import { cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DaemonClient, SearchHit, SearchMode } from "@loupe/protocol";
import { alive, MiB, peakRss, quantile, reportNumbers, round1, startFaultDaemon, WORKSPACE, type FaultDaemon } from "../support/faults.js";

const CLIENTS = 50;
const NOTES = 300;
/**
 * How long the clients keep up their load at least (the first indexing takes longer on 2
 * cores); past it they go on until explain and similar have run on a hit of a partial result
 * too (a hit needs the root's first commit), for at most LOAD_CAP_MS. Query encoding slows
 * document encoding down a lot (see the report's firstHitSeconds), so that first commit can come
 * late; explain and similar run again, from every client at once, once the root is complete.
 */
const LOAD_MS = 5_000;
const LOAD_CAP_MS = 40_000;
/** Files of fixtures/workspace that are indexed (diagram.png is skipped as binary). */
const FIXTURE_FILES = 7;

let d: FaultDaemon;
let root: string;

/** A small deterministic generator, so every run writes the same notes. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const PEOPLE = ["the harbour master", "a beekeeper", "the night nurse", "our landlord", "the choir", "a surveyor", "the baker's apprentice", "the ferry crew", "a retired pilot", "the allotment society"];
const VERBS = ["repaired", "measured", "painted", "argued about", "photographed", "catalogued", "rebuilt", "sold", "borrowed", "inspected"];
const THINGS = ["the copper kettle", "a cracked greenhouse pane", "the tide tables", "seventeen crates of apples", "the brass telescope", "a moth-eaten tapestry", "the village pump", "two bicycles", "the lighthouse lens", "a box of seed potatoes"];
const PLACES = ["near the quay", "behind the chapel", "in the old mill", "at the cricket ground", "under the viaduct", "beside the canal lock", "on the ridge path", "in the market hall"];
const WHEN = ["on a foggy Monday", "after the spring floods", "before the harvest fair", "during the power cut", "one windy evening", "at dawn on Sunday"];

function note(i: number): string {
  const r = lcg(i + 1);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const sentences = Array.from({ length: 3 + Math.floor(r() * 3) }, () => `${pick(WHEN)}, ${pick(PEOPLE)} ${pick(VERBS)} ${pick(THINGS)} ${pick(PLACES)}.`);
  return `# Logbook entry ${i}\n\n${sentences.map((s) => s[0]!.toUpperCase() + s.slice(1)).join(" ")}\nEntry ${i} was filed under drawer ${i % 13} with ${(i * 37) % 101} pages.\n`;
}

const QUERIES = ["retry with exponential backoff", "harbour master repaired the kettle", "lighthouse lens", "login password check", "health check endpoint", "Apfelkuchen Rezept", "seed potatoes in the market hall", "deploy script", "城市的历史", "meeting notes budget"];
const MODES: SearchMode[] = ["hybrid", "lexical", "latent"];

beforeAll(async () => {
  d = await startFaultDaemon();
  root = join(d.dir, "ws");
  await cp(WORKSPACE, root, { recursive: true });
  await mkdir(join(root, "notes", "log"));
  for (let i = 0; i < NOTES; i++) await writeFile(join(root, "notes", "log", `entry-${i}.md`), note(i));
});

afterAll(async () => {
  await d?.close();
});

interface Sample {
  op: string;
  ms: number;
  error?: string;
}

describe("50 concurrent clients while a root indexes", () => {
  it("answers every request of 50 clients during the first indexing, then has every file indexed", async () => {
    const adder = await d.client("fault-adder");
    const pid = (await adder.status()).pid;
    const added = performance.now();
    const first = await adder.addRoot(root, { wait: false });
    expect(["scanning", "indexing"]).toContain(first.state);

    const clients: DaemonClient[] = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => d.client(`fault-load-${i}`)));
    const samples: Sample[] = [];
    let partialSearches = 0;
    let completeSearches = 0;
    let maxClients = 0;
    /** Seconds from addRoot to the first search with hits (the first commit of the new root). */
    let firstHitSeconds: number | null = null;
    const deadline = performance.now() + LOAD_MS;
    const cap = performance.now() + LOAD_CAP_MS;
    const done: Record<string, number> = {};
    /** explain and similar answered on a hit of a partial result (the root still indexing). */
    const whileIndexing = { explain: 0, similar: 0 };
    const going = () => {
      const now = performance.now();
      return now < cap && (now < deadline || !whileIndexing.explain || !whileIndexing.similar);
    };

    async function request<T>(op: string, body: () => Promise<T>): Promise<T | undefined> {
      const started = performance.now();
      try {
        const value = await body();
        samples.push({ op, ms: performance.now() - started });
        done[op] = (done[op] ?? 0) + 1;
        return value;
      } catch (e) {
        samples.push({ op, ms: performance.now() - started, error: `${(e as { code?: string }).code ?? ""} ${(e as Error).message}` });
        return undefined;
      }
    }

    async function load(c: DaemonClient, n: number): Promise<void> {
      let hit: { query: string; hit: SearchHit; partial: boolean } | null = null;
      for (let step = n; going(); step++) {
        const query = QUERIES[step % QUERIES.length]!;
        switch (step % 6) {
          case 0:
          case 1:
          case 2: {
            const mode = MODES[(step + Math.floor(step / 6)) % MODES.length]!;
            const r = await request(`search ${mode}`, () => c.search({ query, mode, k: 10 }));
            if (r) {
              if (r.indexing) partialSearches++;
              else completeSearches++;
              if (r.hits[0]) {
                hit = { query, hit: r.hits[0], partial: r.indexing !== null };
                firstHitSeconds ??= (performance.now() - added) / 1000;
              }
            }
            break;
          }
          case 3: {
            const s = await request("status", () => c.status());
            if (s) maxClients = Math.max(maxClients, s.clients);
            break;
          }
          case 4:
            await request("read", () => c.read({ path: "src/retry.py", startLine: 1, endLine: 40 }));
            break;
          case 5:
            // A hit of an earlier search is in the committed index: explain it, or find passages like it.
            if (!hit) await request("read", () => c.read({ path: "notes/meeting-2026-03.md" }));
            else {
              const h = hit;
              const op = step % 12 === 5 ? "explain" : "similar";
              const r = await request<unknown>(op, () => (op === "explain" ? c.explain({ query: h.query, path: h.hit.file, line: h.hit.startLine }) : c.similar({ path: h.hit.file, startLine: h.hit.startLine, endLine: h.hit.endLine, k: 5 })));
              if (r && h.partial) whileIndexing[op]++;
            }
            break;
        }
      }
    }

    await Promise.all(clients.map((c, i) => load(c, i)));
    const loadSeconds = (performance.now() - added) / 1000;

    // Every request was answered, none with an error.
    const errors = samples.filter((s) => s.error);
    expect(errors.slice(0, 5), `${errors.length} of ${samples.length} requests failed`).toEqual([]);
    expect(samples.length).toBeGreaterThan(CLIENTS * 3);
    for (const op of ["search hybrid", "search lexical", "search latent", "status", "read"]) expect(done[op], op).toBeGreaterThan(0);
    // The load ran while the root was still indexing (results marked partial), with all 50 (+ the adder) connected.
    expect(partialSearches).toBeGreaterThan(0);
    expect(maxClients).toBeGreaterThanOrEqual(CLIENTS);
    expect(alive(pid)).toBe(true);
    for (const c of clients) expect(c.isClosed).toBe(false);
    const during = await peakRss(pid);

    // Once the root is watching, every file is indexed.
    let state = "";
    const idleDeadline = Date.now() + 90_000;
    let status = await adder.status();
    while (Date.now() < idleDeadline) {
      status = await adder.status();
      state = status.roots.find((r) => r.root === root)?.state ?? "missing";
      if (state === "watching" || state === "error") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const indexSeconds = (performance.now() - added) / 1000;
    const r = status.roots.find((x) => x.root === root)!;
    expect(r).toMatchObject({ state: "watching", pending: 0, lastError: null });
    const listed = await d.loupe("ls-files", root, "--json");
    expect(listed.code, listed.stderr).toBe(0);
    const files = (JSON.parse(listed.stdout) as { files: string[] }).files.length;
    expect(files).toBe(NOTES + FIXTURE_FILES);
    expect(r.files).toBe(files);
    expect(status.lastError).toBeNull();
    expect(alive(pid)).toBe(true);
    // And the whole of it is searchable: a generated note by its own words.
    const found = await adder.search({ query: "Logbook entry 299", mode: "lexical" });
    expect(found.indexing).toBeNull();
    expect(found.hits.map((h) => h.path)).toContain("notes/log/entry-299.md");

    // On the complete index, all 50 at once: a search, then explain and similar on its top hit.
    await Promise.all(clients.map(async (c, i) => {
      const query = QUERIES[i % QUERIES.length]!;
      const r = await request("after: search", () => c.search({ query, mode: MODES[i % MODES.length]! }));
      expect(r?.indexing, query).toBeNull();
      const h = r?.hits[0];
      expect(h, query).toBeDefined();
      await Promise.all([
        request("after: explain", () => c.explain({ query, path: h!.file, line: h!.startLine })),
        request("after: similar", () => c.similar({ path: h!.file, startLine: h!.startLine, endLine: h!.endLine, k: 5 })),
      ]);
    }));
    const allErrors = samples.filter((s) => s.error);
    expect(allErrors.slice(0, 5), `${allErrors.length} of ${samples.length} requests failed`).toEqual([]);
    expect(alive(pid)).toBe(true);

    // Latencies of the load phase (the 50 clients while the root indexed).
    const loadSamples = samples.filter((s) => !s.op.startsWith("after: "));
    const ms = loadSamples.map((s) => s.ms);
    const byOp: Record<string, { n: number; p50: number; p95: number; max: number }> = {};
    for (const op of [...new Set(samples.map((s) => s.op))].sort()) {
      const xs = samples.filter((s) => s.op === op).map((s) => s.ms);
      byOp[op] = { n: xs.length, p50: round1(quantile(xs, 0.5)), p95: round1(quantile(xs, 0.95)), max: round1(Math.max(...xs)) };
    }
    const hwm = await peakRss(pid);
    const numbers = {
      clients: CLIENTS,
      requests: loadSamples.length,
      errors: allErrors.length,
      loadSeconds: round1(loadSeconds),
      p50Ms: round1(quantile(ms, 0.5)),
      p95Ms: round1(quantile(ms, 0.95)),
      maxMs: round1(Math.max(...ms)),
      partialSearches,
      firstHitSeconds: firstHitSeconds === null ? null : round1(firstHitSeconds),
      explainWhileIndexing: whileIndexing.explain,
      similarWhileIndexing: whileIndexing.similar,
      completeSearches,
      maxClientsSeen: maxClients,
      files: r.files,
      chunks: r.chunks,
      indexSeconds: round1(indexSeconds),
      daemonVmHwmDuringLoadMiB: round1(during / MiB),
      daemonVmHwmMiB: round1(hwm / MiB),
      byOp,
    };
    console.log(`concurrent-clients: ${JSON.stringify(numbers)}`);
    await reportNumbers("concurrent-clients", numbers);
  });
});
