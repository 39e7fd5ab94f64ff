// Reads an evaluation set in BEIR layout: corpus.jsonl, queries.jsonl, qrels.tsv.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, LoupeError } from "@loupe/protocol";

export interface EvalDoc {
  id: string;
  title: string;
  text: string;
  /** File extension when the document is source code (e.g. "py"). */
  ext?: string;
}

export interface EvalQuery {
  id: string;
  text: string;
}

export interface EvalSet {
  dir: string;
  docs: EvalDoc[];
  queries: EvalQuery[];
  /** query id → (doc id → graded relevance > 0). */
  qrels: Map<string, Map<string, number>>;
}

async function readText(dir: string, file: string): Promise<string> {
  try {
    return await readFile(join(dir, file), "utf8");
  } catch (e) {
    throw new LoupeError(
      ErrorCode.EvalSetInvalid,
      `cannot read ${join(dir, file)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ` +
        "an eval set is a folder with corpus.jsonl, queries.jsonl and qrels.tsv",
    );
  }
}

function parseJsonl<T>(dir: string, file: string, text: string, check: (o: Record<string, unknown>) => T): T[] {
  const out: T[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new LoupeError(ErrorCode.EvalSetInvalid, `${join(dir, file)}:${i + 1}: not a JSON object`);
    }
    if (typeof o._id !== "string" && typeof o._id !== "number") {
      throw new LoupeError(ErrorCode.EvalSetInvalid, `${join(dir, file)}:${i + 1}: missing "_id"`);
    }
    if (typeof o.text !== "string") throw new LoupeError(ErrorCode.EvalSetInvalid, `${join(dir, file)}:${i + 1}: missing "text"`);
    out.push(check(o));
  });
  return out;
}

export async function readEvalSet(dir: string): Promise<EvalSet> {
  const [corpus, queries, qrels] = await Promise.all([
    readText(dir, "corpus.jsonl"),
    readText(dir, "queries.jsonl"),
    readText(dir, "qrels.tsv"),
  ]);
  const docs = parseJsonl(dir, "corpus.jsonl", corpus, (o) => ({
    id: String(o._id),
    title: typeof o.title === "string" ? o.title : "",
    text: o.text as string,
    ...(typeof o.ext === "string" ? { ext: o.ext } : {}),
  }));
  const qs = parseJsonl(dir, "queries.jsonl", queries, (o) => ({ id: String(o._id), text: o.text as string }));
  const judged = new Map<string, Map<string, number>>();
  qrels.split("\n").forEach((line, i) => {
    if (line.trim() === "" || (i === 0 && /query-id/i.test(line))) return;
    const [q, d, s] = line.split("\t");
    const score = Number(s);
    if (!q || !d || !Number.isFinite(score)) {
      throw new LoupeError(ErrorCode.EvalSetInvalid, `${join(dir, "qrels.tsv")}:${i + 1}: expected query-id<TAB>corpus-id<TAB>score`);
    }
    if (score <= 0) return;
    let m = judged.get(q);
    if (!m) judged.set(q, (m = new Map()));
    m.set(d, score);
  });
  if (docs.length === 0 || qs.length === 0) throw new LoupeError(ErrorCode.EvalSetInvalid, `${dir}: empty corpus or query file`);
  return { dir, docs, queries: qs, qrels: judged };
}

/** The text Loupe indexes for an eval document: title and body. */
export function docText(d: EvalDoc): string {
  return d.title ? `${d.title}\n${d.text}` : d.text;
}
