// `loupe eval --tasks FILE|DIR`: questions an agent asks about a real repository or notes vault,
// each with the file and lines that answer it (eval/tasks/*.json; written by reading the code,
// never from Loupe's output). Each task file names one repository, pinned by commit; the
// checkout is `<repos>/<id>` (the commit is not fetched here: nothing may be downloaded at run
// time). The repository's folder `root` is indexed by the core as a workspace root, exactly as
// the daemon would (ignore rules, chunkers, two phases), each question is searched like an
// agent would (hybrid, one page of 10), and a hit is right when it is in an answer's file and
// its lines overlap the answer's lines. Reported: right lines first / top 3 / top 10, right
// file in the top 3, per repository and over all tasks.
import { readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import type { ChunkEncoder } from "../core/chunk-encoder.js";
import { Loupe, type LoupeOptions } from "../core/loupe.js";
import { ErrorCode, LoupeError, type SearchHit, type SearchMode } from "@loupe/protocol";
import type { Progress } from "./run.js";

const AnswerSchema = z
  .object({ path: z.string().min(1), start: z.number().int().positive(), end: z.number().int().positive() })
  .refine((a) => a.end >= a.start, { message: "end is before start" });

export const TaskFileSchema = z.object({
  repo: z.object({
    /** Folder name of the checkout under the repos folder. */
    id: z.string().regex(/^[A-Za-z0-9._-]+$/),
    github: z.string().regex(/^[\w.-]+\/[\w.-]+$/),
    commit: z.string().regex(/^[0-9a-f]{40}$/),
    language: z.string(),
    /** Folder inside the repository that is indexed ("" for all of it); answer paths are relative to it. */
    root: z.string(),
  }),
  tasks: z
    .array(z.object({ id: z.string().min(1), question: z.string().min(3), answers: z.array(AnswerSchema).min(1) }))
    .min(1),
});
export type TaskFile = z.infer<typeof TaskFileSchema>;

/** One file, or every `*.json` of a folder (sorted), each checked against TaskFileSchema. */
export async function readTaskFiles(path: string): Promise<TaskFile[]> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new LoupeError(ErrorCode.EvalSetInvalid, `no task file or folder at ${path}`);
  const files = st.isDirectory() ? (await readdir(path)).filter((f) => f.endsWith(".json")).sort().map((f) => join(path, f)) : [path];
  if (files.length === 0) throw new LoupeError(ErrorCode.EvalSetInvalid, `no *.json task files in ${path}`);
  const out: TaskFile[] = [];
  for (const f of files) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(f, "utf8"));
    } catch (e) {
      throw new LoupeError(ErrorCode.EvalSetInvalid, `${f} is not JSON: ${(e as Error).message}`);
    }
    const parsed = TaskFileSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new LoupeError(ErrorCode.EvalSetInvalid, `${f}: ${issue.path.join(".") || "(top)"}: ${issue.message}`);
    }
    out.push(parsed.data);
  }
  const ids = new Set<string>();
  for (const t of out.flatMap((f) => f.tasks)) {
    if (ids.has(t.id)) throw new LoupeError(ErrorCode.EvalSetInvalid, `task id ${t.id} appears twice`);
    ids.add(t.id);
  }
  return out;
}

export interface TaskOutcome {
  id: string;
  repo: string;
  question: string;
  /** 1-based rank of the first hit on the answering lines, or null if none in the page. */
  lineRank: number | null;
  /** 1-based rank of the first hit in an answering file, or null. */
  fileRank: number | null;
  /** The page's hits as `path:start-end`, for reading what went wrong. */
  hits: string[];
  /** For the first hit on the answering lines: whether its snippet shows a line of the answer (null: no such hit). */
  snippetOnAnswer: boolean | null;
  /** The same for the chunk's first six lines, what snippets showed before they were chosen by the query. */
  headOnAnswer: boolean | null;
}

export interface TaskScores {
  tasks: number;
  lines_top1: number;
  lines_top3: number;
  lines_top10: number;
  file_top3: number;
  /** Of the questions with a hit on the answering lines, the share whose snippet shows an answering line. */
  snippet_on_answer: number;
  /** The same for the chunk's first six lines. */
  head_on_answer: number;
}

export interface TaskEvalResult {
  mode: SearchMode;
  k: number;
  overall: TaskScores;
  repos: Array<{ id: string; github: string; commit: string } & TaskScores>;
  outcomes: TaskOutcome[];
  seconds: number;
}

export interface TaskEvalOptions {
  /** Folder holding one checkout per repository, named by the task file's `repo.id`. */
  repos: string;
  /** Index cache (kept between runs when given, so a re-run only searches). */
  cacheDir: string;
  encoder: ChunkEncoder;
  mode?: SearchMode;
  onProgress?: Progress;
  /** Re-ranking constants to measure instead of the defaults (`--rerank`). */
  rerank?: LoupeOptions["rerank"];
}

/** Hits per question: one page, as an agent reads it. */
const PAGE = 10;

export function scoreOutcomes(outcomes: readonly TaskOutcome[]): TaskScores {
  const n = outcomes.length;
  const share = (f: (o: TaskOutcome) => boolean) => (n === 0 ? 0 : Math.round((outcomes.filter(f).length / n) * 1000) / 1000);
  const found = outcomes.filter((o) => o.snippetOnAnswer !== null);
  const ofFound = (f: (o: TaskOutcome) => boolean) => (found.length === 0 ? 0 : Math.round((found.filter(f).length / found.length) * 1000) / 1000);
  return {
    tasks: n,
    snippet_on_answer: ofFound((o) => o.snippetOnAnswer === true),
    head_on_answer: ofFound((o) => o.headOnAnswer === true),
    lines_top1: share((o) => o.lineRank === 1),
    lines_top3: share((o) => o.lineRank !== null && o.lineRank <= 3),
    lines_top10: share((o) => o.lineRank !== null && o.lineRank <= 10),
    file_top3: share((o) => o.fileRank !== null && o.fileRank <= 3),
  };
}

type Judged = Pick<SearchHit, "path" | "startLine" | "endLine"> & Partial<Pick<SearchHit, "snippetStartLine" | "snippetEndLine">>;

/** Where in `hits` the answers first appear (lines overlapping; same file), and whether that hit's snippet shows them. */
export function judge(hits: readonly Judged[], answers: TaskFile["tasks"][number]["answers"]): Pick<TaskOutcome, "lineRank" | "fileRank" | "snippetOnAnswer" | "headOnAnswer"> {
  let lineRank: number | null = null, fileRank: number | null = null;
  let snippetOnAnswer: boolean | null = null, headOnAnswer: boolean | null = null;
  const overlaps = (a: { start: number; end: number }, from: number, to: number) => from <= a.end && to >= a.start;
  hits.forEach((h, i) => {
    for (const a of answers) {
      if (h.path !== a.path) continue;
      fileRank ??= i + 1;
      if (lineRank === null && overlaps(a, h.startLine, h.endLine)) {
        lineRank = i + 1;
        const on = (from: number, to: number) => answers.some((b) => b.path === h.path && overlaps(b, from, to));
        snippetOnAnswer = h.snippetStartLine !== undefined ? on(h.snippetStartLine, h.snippetEndLine!) : null;
        headOnAnswer = on(h.startLine, Math.min(h.endLine, h.startLine + 5));
      }
    }
  });
  return { lineRank, fileRank, snippetOnAnswer, headOnAnswer };
}

export async function runTaskEval(files: readonly TaskFile[], o: TaskEvalOptions): Promise<TaskEvalResult> {
  const started = performance.now();
  const mode = o.mode ?? "hybrid";
  const progress = o.onProgress ?? (() => {});
  // Every checkout must be there before anything is indexed: a missing one is named with its pin.
  const roots = new Map<string, string>();
  for (const f of files) {
    const root = resolve(o.repos, f.repo.id, f.repo.root);
    if (!(await stat(root).catch(() => null))?.isDirectory()) {
      throw new LoupeError(ErrorCode.BadArgument, `no checkout of ${f.repo.github} at ${root}: put ${f.repo.github} at commit ${f.repo.commit} in ${resolve(o.repos, f.repo.id)}`);
    }
    roots.set(f.repo.id, root);
  }
  const loupe = new Loupe({
    cacheDir: o.cacheDir,
    encoder: o.encoder,
    rootOptions: { watch: false, batchFiles: 256 },
    ...(o.rerank ? { rerank: o.rerank } : {}),
    onRootChange: (s) => s.progress && progress(`indexing ${s.root}`, s.progress.done, s.progress.total),
  });
  const outcomes: TaskOutcome[] = [];
  try {
    for (const f of files) {
      const root = roots.get(f.repo.id)!;
      await loupe.addRoot(root);
      await loupe.whenIdle();
      for (const t of f.tasks) {
        const page = await loupe.search({ query: t.question, mode, k: PAGE, roots: [root] });
        outcomes.push({
          id: t.id, repo: f.repo.id, question: t.question, ...judge(page.hits, t.answers),
          hits: page.hits.map((h) => `${h.path}:${h.startLine}-${h.endLine}`),
        });
      }
      progress("searching", outcomes.length, files.reduce((a, x) => a + x.tasks.length, 0));
    }
  } finally {
    await loupe.close();
  }
  return {
    mode, k: PAGE,
    overall: scoreOutcomes(outcomes),
    repos: files.map((f) => ({ id: f.repo.id, github: f.repo.github, commit: f.repo.commit, ...scoreOutcomes(outcomes.filter((x) => x.repo === f.repo.id)) })),
    outcomes,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
