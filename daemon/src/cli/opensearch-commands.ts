// `loupe opensearch push|search|status`: a workspace in a shared OpenSearch index
// (docs/scale-out.md). The encoder and the analysis run here, as for a local root; the cluster
// holds the index. The CLI's part is arguments and printing; the work is core/cluster.ts.
import { basename, resolve } from "node:path";
import { openBridge } from "../analysis/bridge.js";
import { packEncoder } from "../core/chunk-encoder.js";
import { pushRoot, searchCluster } from "../core/cluster.js";
import { OpenSearchClient } from "../opensearch/client.js";
import { openEncoder } from "./engine-commands.js";
import { makeLog, oneOf, positiveInt, usageError, type Values } from "./main.js";
import { progressReporter } from "./progress.js";

/** The cluster's address: --url, else $LOUPE_OPENSEARCH_URL. */
function client(values: Values): OpenSearchClient {
  const url = values.url ?? process.env.LOUPE_OPENSEARCH_URL;
  if (!url) usageError("opensearch needs --url URL (or LOUPE_OPENSEARCH_URL), e.g. https://user:pass@search.example.com:9200");
  return new OpenSearchClient({ url, index: values.index ?? "loupe", log: makeLog(values) });
}

export async function cmdOpenSearch(values: Values, positionals: string[]): Promise<void> {
  const [sub, ...rest] = positionals;
  if (sub === "push") return push(values, rest);
  if (sub === "search") return search(values, rest);
  if (sub === "status") return status(values);
  usageError(`unknown opensearch command "${sub ?? ""}" (push, search, status)`);
}

async function push(values: Values, rest: string[]): Promise<void> {
  if (rest.length !== 1) usageError("opensearch push takes one folder");
  const folder = resolve(rest[0]!);
  const c = client(values);
  const log = makeLog(values);
  if (values.recreate) {
    log(`deleting index ${c.index} (--recreate)`);
    await c.deleteIndex();
  }
  const encoder = await packEncoder(await openEncoder(values, 32));
  try {
    const progress = values.quiet ? null : progressReporter();
    const result = await pushRoot(folder, {
      client: c, name: values.name ?? basename(folder), encoder, lexical: await openBridge(), seismic: values.seismic ?? false, log,
      ...(progress ? { onProgress: (done: number, total: number) => progress.update("changed files", done, total) } : {}),
    });
    progress?.stop();
    if (values.json) process.stdout.write(JSON.stringify({ index: c.index, root: values.name ?? basename(folder), ...result }) + "\n");
    else process.stdout.write(`${values.name ?? basename(folder)} → ${c.index}: ${result.files} files, ${result.changed} changed (${result.chunks} chunks written), ${result.removed} removed, ${result.requests} requests\n`);
  } finally {
    await encoder.close();
  }
}

async function search(values: Values, rest: string[]): Promise<void> {
  const query = rest.join(" ");
  if (!query.trim()) usageError('opensearch search needs a query, e.g. loupe opensearch search "retry with backoff"');
  const c = client(values);
  const k = positiveInt("k", values.k, 10, 100);
  const mode = oneOf("mode", values.mode, ["hybrid", "lexical", "latent"] as const, "hybrid");
  const meta = await c.meta().catch(() => null);
  const encoder = await packEncoder(await openEncoder(values));
  try {
    if (meta && meta.pack !== encoder.fingerprint) {
      usageError(`index ${c.index} holds vectors of model pack ${meta.packName} (${meta.pack.slice(0, 19)}…); this Loupe encodes with ${encoder.name} (${encoder.fingerprint.slice(0, 19)}…): use the same --pack as the pushes`);
    }
    const roots = values.root ? [values.root] : undefined;
    const hits = await searchCluster(query, {
      client: c, encoder, lexical: await openBridge(), k, mode, ann: values.seismic ?? false,
      filters: { ...(roots ? { roots } : {}), ...(values.kind ? { kinds: [values.kind] } : {}) },
    });
    if (values.json) {
      process.stdout.write(JSON.stringify({ query, mode, index: c.index, hits }) + "\n");
      return;
    }
    if (hits.length === 0) process.stdout.write("no results\n");
    for (const h of hits) {
      process.stdout.write(`${h.root}/${h.path}:${h.startLine}-${h.endLine}  ${h.score.toFixed(3)}${h.symbol ? `  ${h.symbol}` : ""}\n`);
      for (const line of h.text.split("\n").slice(0, 3)) process.stdout.write(`    ${line.slice(0, 160)}\n`);
    }
  } finally {
    await encoder.close();
  }
}

async function status(values: Values): Promise<void> {
  const c = client(values);
  const meta = await c.meta();
  const r = await c.request("GET", `/${c.index}/_count`);
  const count = (r.body as { count?: number })?.count ?? null;
  if (values.json) process.stdout.write(JSON.stringify({ index: c.index, loupe: meta, chunks: count }) + "\n");
  else process.stdout.write(meta ? `${c.index}: ${count ?? "?"} chunks, model pack ${meta.packName} (${meta.pack.slice(0, 19)}…), analyzer ${meta.analyzer}, format ${meta.format}\n` : `${c.index} is not a Loupe index\n`);
}
