// Tier: unit (real files). Reading BEIR-layout eval sets and reporting broken ones clearly.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readEvalSet } from "../../daemon/src/eval/beir.js";

const TINY = new URL("../../fixtures/eval/tiny", import.meta.url).pathname;

describe("readEvalSet", () => {
  it("reads the tiny fixture set", async () => {
    const set = await readEvalSet(TINY);
    expect(set.docs).toHaveLength(8);
    expect(set.queries).toHaveLength(6);
    expect(set.qrels.get("q6")).toEqual(new Map([["d8", 2]]));
    expect(set.docs.find((d) => d.id === "d3")?.ext).toBe("py");
  });
  it("names the missing file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "loupe-beir-"));
    await expect(readEvalSet(dir)).rejects.toMatchObject({ code: "EVAL_SET_INVALID", message: expect.stringMatching(/corpus\.jsonl/) });
  });
  it("points at the broken line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "loupe-beir-"));
    await writeFile(join(dir, "corpus.jsonl"), '{"_id":"1","text":"a"}\n{"_id":"2"}\n');
    await writeFile(join(dir, "queries.jsonl"), '{"_id":"q","text":"a"}\n');
    await writeFile(join(dir, "qrels.tsv"), "query-id\tcorpus-id\tscore\nq\t1\t1\n");
    await expect(readEvalSet(dir)).rejects.toThrow(/corpus\.jsonl:2: missing "text"/);
  });
});
