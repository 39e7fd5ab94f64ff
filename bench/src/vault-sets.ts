// Cross-language eval sets from a multilingual documentation vault whose translated pages share
// a `permalink` in their front matter, as the Obsidian help vault does (obsidianmd/obsidian-help,
// one folder per language). For each pair Q-D: the corpus is the pages in language D (front
// matter removed, the file name as the title), the queries are the same pages' titles
// ("title-Q-D") or front-matter descriptions ("desc-Q-D") in language Q, and the one relevant
// page is the one with the same permalink. The sets are written outside the repository (the
// vault's text is never copied into it); run bench/bridge on them.
//
//   node bench/dist/vault-sets.js --vault DIR --out DIR [--pairs en-de,de-en,en-es,es-en]
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    vault: { type: "string" },
    out: { type: "string" },
    pairs: { type: "string", default: "en-de,de-en,en-es,es-en" },
  },
});
if (!values.vault || !values.out) throw new Error("--vault DIR and --out DIR are required");

interface Page {
  title: string;
  description: string | undefined;
  body: string;
}

/** The pages of one language's folder, by permalink. */
function pages(dir: string): Map<string, Page> {
  const out = new Map<string, Page>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".md")) {
        const text = readFileSync(p, "utf8");
        const front = /^---\n([\s\S]*?)\n---\n?/.exec(text);
        const permalink = front?.[1]!.match(/^permalink:\s*(.+)$/m)?.[1]?.trim();
        if (!front || !permalink) continue;
        out.set(permalink, { title: basename(e.name, ".md"), description: front[1]!.match(/^description:\s*(.+)$/m)?.[1]?.trim(), body: text.slice(front[0].length) });
      }
    }
  };
  walk(dir);
  return out;
}

const byLanguage = new Map<string, Map<string, Page>>();
const lang = (l: string) => {
  let p = byLanguage.get(l);
  if (!p) byLanguage.set(l, (p = pages(join(values.vault!, l))));
  return p;
};
const lines = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
for (const pair of values.pairs!.split(",")) {
  const [q, d] = pair.split("-") as [string, string];
  for (const kind of ["title", "desc"] as const) {
    const dir = join(values.out!, `${kind}-${q}-${d}`);
    mkdirSync(dir, { recursive: true });
    const queries = [...lang(q)]
      .filter(([permalink, p]) => lang(d).has(permalink) && (kind === "title" || p.description))
      .map(([permalink, p]) => ({ _id: permalink, text: kind === "title" ? p.title : p.description! }));
    writeFileSync(join(dir, "corpus.jsonl"), lines([...lang(d)].map(([permalink, p]) => ({ _id: permalink, title: p.title, text: p.body }))));
    writeFileSync(join(dir, "queries.jsonl"), lines(queries));
    writeFileSync(join(dir, "qrels.tsv"), "query-id\tcorpus-id\tscore\n" + queries.map((x) => `${x._id}\t${x._id}\t1\n`).join(""));
    writeFileSync(join(dir, "SOURCE.json"), JSON.stringify({ source: values.vault, task: `${kind} in ${q} → page in ${d}, matched by permalink` }, null, 2) + "\n");
    process.stderr.write(`${dir}: ${lang(d).size} pages, ${queries.length} queries\n`);
  }
}
