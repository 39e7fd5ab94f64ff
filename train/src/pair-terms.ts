// Writes the lexical terms of the mined pairs as the daemon's own analyzer produces them, beside
// the pair states: `terms.jsonl` (one line per pair, {"q": [...], "d": [...]}, in the pairs'
// order) and, in the states' meta.json, `analyzer: { version, bm25, terms }`. The trainers'
// BM25 (hard negatives, the hybrid loss) reads these instead of analysing text themselves, so the
// head is trained against the lexical channel Loupe ships: NFKC, the word segmenter, the stemmer,
// identifier splitting, all as `ANALYZER_VERSION` says.
//
//   node train/dist/pair-terms.js [--pairs .cache/train/pairs.jsonl] [--states .cache/train/pair-states]
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { analyze, ANALYZER_VERSION } from "@loupe/daemon/analysis/analyzer";
import { DEFAULT_BM25 } from "@loupe/daemon/search/bm25";

const { values: args } = parseArgs({
  options: {
    pairs: { type: "string", default: ".cache/train/pairs.jsonl" },
    states: { type: "string", default: ".cache/train/pair-states" },
  },
  strict: true,
});

async function main(): Promise<void> {
  const pairsText = await readFile(resolve(args.pairs), "utf8");
  const metaFile = join(resolve(args.states), "meta.json");
  const meta = JSON.parse(await readFile(metaFile, "utf8")) as { corpusSha256?: string } & Record<string, unknown>;
  const sha = createHash("sha256").update(pairsText).digest("hex");
  if (meta.corpusSha256 !== sha) throw new Error(`${args.pairs} (sha256 ${sha}) is not the pairs the states in ${args.states} were computed from (${meta.corpusSha256})`);
  const lines: string[] = [];
  for (const line of pairsText.split("\n")) {
    if (!line) continue;
    const p = JSON.parse(line) as { q: string; d: string };
    lines.push(JSON.stringify({ q: analyze(p.q), d: analyze(p.d) }));
  }
  await writeFile(join(resolve(args.states), "terms.jsonl"), lines.join("\n") + "\n");
  meta.analyzer = { version: ANALYZER_VERSION, bm25: DEFAULT_BM25, terms: "terms.jsonl" };
  await writeFile(metaFile, JSON.stringify(meta, null, 2) + "\n");
  process.stderr.write(`pair terms: ${lines.length} pairs analysed (analyzer version ${ANALYZER_VERSION}) → ${join(args.states, "terms.jsonl")}\n`);
}

main().catch((e) => {
  process.stderr.write(`pair-terms: ${(e as Error).message}\n`);
  process.exit(1);
});
