// `loupe eval --workspace`: the same metrics as run.ts, but through the daemon's pipeline. The
// corpus is written as files into a temp folder (code documents with their extension, prose as
// `.txt`; title and body as in run.ts), indexed by the core as a workspace root (ignore rules,
// syntax-aware and paragraph chunking, the content-hash encoder path, the on-disk index), and
// each query is searched like a user would; chunk hits map back to their document, best chunk
// first. Comparing it with `loupe eval` (one document = one unit) measures what chunking does.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChunkLimits } from "../chunk/index.js";
import type { ChunkEncoder } from "../core/chunk-encoder.js";
import { Loupe } from "../core/loupe.js";
import type { SearchMode } from "@loupe/protocol";
import type { Hit } from "../search/topk.js";
import { docText, type EvalSet } from "./beir.js";
import { evalResult, type EvalResult, type Progress } from "./run.js";

export interface WorkspaceEvalOptions {
  name: string;
  mode: SearchMode;
  encoder: ChunkEncoder;
  onProgress?: Progress;
  /** Chunk limits for this run (default: the daemon's). */
  chunkLimits?: ChunkLimits;
}

const DOCS_PER_FOLDER = 1000;

export function docPath(i: number, ext: string | undefined): string {
  return `d${Math.floor(i / DOCS_PER_FOLDER)}/${i}.${ext ?? "txt"}`;
}

export async function runWorkspaceEval(set: EvalSet, o: WorkspaceEvalOptions): Promise<EvalResult> {
  const started = performance.now();
  const progress = o.onProgress ?? (() => {});
  const dir = await mkdtemp(join(tmpdir(), "loupe-eval-ws-"));
  try {
    const root = join(dir, "ws");
    for (let i = 0; i < set.docs.length; i++) {
      const path = join(root, docPath(i, set.docs[i]!.ext));
      if (i % DOCS_PER_FOLDER === 0) await mkdir(join(path, ".."), { recursive: true });
      await writeFile(path, docText(set.docs[i]!) + "\n");
    }
    const loupe = new Loupe({
      cacheDir: join(dir, "cache"),
      encoder: o.encoder,
      rootOptions: { watch: false, batchFiles: 256, ...(o.chunkLimits ? { chunkLimits: o.chunkLimits } : {}) },
      onRootChange: (s) => s.progress && progress("indexing", s.progress.done, s.progress.total),
    });
    try {
      await loupe.addRoot(root);
      await loupe.whenIdle();
      const rankings: Hit[][] = [];
      for (const [qi, q] of set.queries.entries()) {
        const seen = new Map<number, number>();
        for (let offset: number | null = 0; offset !== null && seen.size < 100; ) {
          const page = await loupe.search({ query: q.text, mode: o.mode, k: 100, offset });
          for (const h of page.hits) {
            const doc = Number(h.path.slice(h.path.indexOf("/") + 1, h.path.lastIndexOf(".")));
            if (!seen.has(doc)) seen.set(doc, h.score);
          }
          offset = page.nextOffset;
        }
        rankings.push([...seen].slice(0, 100).map(([doc, score]) => ({ doc, score })));
        if ((qi + 1) % 50 === 0 || qi + 1 === set.queries.length) progress("searching", qi + 1, set.queries.length);
      }
      return evalResult(set, o.name, o.mode, rankings, started);
    } finally {
      await loupe.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
