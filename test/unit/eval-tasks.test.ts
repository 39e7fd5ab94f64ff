// Tier: unit (task files and judging; the whole `loupe eval --tasks` runs in test/e2e/cli.test.ts).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { judge, readTaskFiles, scoreOutcomes, type TaskOutcome } from "../../daemon/src/eval/tasks.js";

const TASKS = new URL("../../fixtures/tasks", import.meta.url).pathname;
const EVAL_TASKS = new URL("../../eval/tasks", import.meta.url).pathname;

describe("agent task files", () => {
  it("reads a folder of task files, and the repository's own set pins every repository", async () => {
    expect((await readTaskFiles(TASKS)).map((f) => f.repo.id)).toEqual(["shop"]);
    const set = await readTaskFiles(EVAL_TASKS);
    expect(set.flatMap((f) => f.tasks).length).toBeGreaterThanOrEqual(40);
    expect(new Set(set.map((f) => f.repo.language)).size).toBeGreaterThanOrEqual(4);
    // The hidden set holds these out: they never belong in ours.
    for (const f of set) expect(["expressjs/express", "psf/requests", "fastify/fastify"]).not.toContain(f.repo.github);
  });

  it("names the file and field of a bad task, a duplicate id, and a missing path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "loupe-tasks-"));
    const good = { repo: { id: "r", github: "o/r", commit: "a".repeat(40), language: "go", root: "" }, tasks: [{ id: "t1", question: "where is x", answers: [{ path: "x.go", start: 3, end: 9 }] }] };
    await writeFile(join(dir, "bad.json"), JSON.stringify({ ...good, tasks: [{ ...good.tasks[0], answers: [{ path: "x.go", start: 9, end: 3 }] }] }));
    await expect(readTaskFiles(join(dir, "bad.json"))).rejects.toThrow(/bad\.json: tasks\.0\.answers\.0: end is before start/);
    await writeFile(join(dir, "a.json"), JSON.stringify(good));
    await writeFile(join(dir, "b.json"), JSON.stringify(good));
    await expect(readTaskFiles(join(dir, "a.json"))).resolves.toHaveLength(1);
    await expect(readTaskFiles(dir)).rejects.toThrow(/bad\.json: tasks\.0/);
    await writeFile(join(dir, "bad.json"), "{");
    await expect(readTaskFiles(dir)).rejects.toThrow(/bad\.json is not JSON/);
    await rm(join(dir, "bad.json"));
    await expect(readTaskFiles(dir)).rejects.toThrow(/task id t1 appears twice/);
    await expect(readTaskFiles(join(dir, "none"))).rejects.toThrow(/no task file or folder/);
  });

  it("a hit is right when it is in an answer's file and its lines overlap the answer's", () => {
    const answers = [{ path: "a.ts", start: 10, end: 20 }, { path: "b.ts", start: 1, end: 5 }];
    const hit = (path: string, startLine: number, endLine: number) => ({ path, startLine, endLine });
    expect(judge([hit("c.ts", 10, 20), hit("a.ts", 1, 9), hit("a.ts", 20, 40), hit("b.ts", 1, 2)], answers)).toMatchObject({ lineRank: 3, fileRank: 2 });
    expect(judge([hit("a.ts", 21, 30)], answers)).toEqual({ lineRank: null, fileRank: 1, snippetOnAnswer: null, headOnAnswer: null });
    expect(judge([], answers)).toEqual({ lineRank: null, fileRank: null, snippetOnAnswer: null, headOnAnswer: null });
  });

  it("says whether the right hit's snippet, and its first six lines, show the answer", () => {
    const answers = [{ path: "a.ts", start: 30, end: 35 }];
    const hit = { path: "a.ts", startLine: 1, endLine: 60, snippetStartLine: 31, snippetEndLine: 36 };
    expect(judge([hit], answers)).toEqual({ lineRank: 1, fileRank: 1, snippetOnAnswer: true, headOnAnswer: false });
    expect(judge([{ ...hit, snippetStartLine: 1, snippetEndLine: 6 }], answers)).toMatchObject({ snippetOnAnswer: false, headOnAnswer: false });
    expect(judge([{ ...hit, startLine: 28 }], answers)).toMatchObject({ headOnAnswer: true });
  });

  it("scores shares of tasks", () => {
    const o = (lineRank: number | null, fileRank: number | null, snippet: boolean | null = null): TaskOutcome => ({ id: "x", repo: "r", question: "q", lineRank, fileRank, hits: [], snippetOnAnswer: snippet, headOnAnswer: snippet === null ? null : false });
    expect(scoreOutcomes([o(1, 1, true), o(3, 2, false), o(null, 4), o(null, null)])).toEqual({
      tasks: 4, lines_top1: 0.25, lines_top3: 0.5, lines_top10: 0.5, file_top3: 0.5, snippet_on_answer: 0.5, head_on_answer: 0,
    });
  });
});
