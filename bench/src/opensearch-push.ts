// bench/opensearch-push: what `loupe opensearch push` costs on Loupe's side, on a real tree with
// the default pack: wall time of a first push (every file chunked, analysed, encoded, written),
// of a second one with nothing changed (one hash per file, one paged listing), and of a third
// after one file changed; requests sent, and the bytes of `_bulk` bodies against the source's
// bytes (what a cluster must take in). The cluster is a local HTTP server that accepts every
// request with OpenSearch's documented response shapes, so the cluster's own time is not in it.
//
//   npm run bench:opensearch-push -- --tree DIR [--source "owner/repo@commit path"] [--out FILE]
import { appendFile, cp, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeFile } from "node:fs/promises";
import { cacheDir } from "@loupe/protocol";
import { openBridge } from "@loupe/daemon/analysis/bridge";
import { packEncoder } from "@loupe/daemon/core/chunk-encoder";
import { pushRoot } from "@loupe/daemon/core/cluster";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder } from "@loupe/daemon/model/encoder";
import { OpenSearchClient } from "@loupe/daemon/opensearch/client";
import { walkWorkspace } from "@loupe/daemon/workspace/ignore";
import { machineInfo } from "./common.js";

const { values } = parseArgs({ options: { tree: { type: "string" }, source: { type: "string" }, out: { type: "string", default: "bench/results/opensearch-push.json" } } });
if (!values.tree) throw new Error("--tree DIR is required");
const loadAtStart = loadavg();

// A cluster that takes everything: counts bytes, keeps the pushed files' hashes so the second
// push finds them (the listing is the one query whose answer matters to the pusher).
let bulkBytes = 0;
let requests = 0;
const files = new Map<string, string>();
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    requests++;
    const body = Buffer.concat(chunks).toString("utf8");
    const path = (req.url ?? "").split("?")[0]!;
    const send = (status: number, json?: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(json === undefined ? undefined : JSON.stringify(json));
    };
    if (req.method === "HEAD") return send(created ? 200 : 404);
    if (req.method === "PUT") {
      created = true;
      return send(200, { acknowledged: true, shards_acknowledged: true });
    }
    if (path.endsWith("/_mapping")) return send(200, { bench: { mappings: { _meta: { loupe: meta } } } });
    if (path === "/_bulk") {
      bulkBytes += Buffer.byteLength(body);
      const lines = body.split("\n");
      const items: unknown[] = [];
      for (let i = 0; i < lines.length - 1; i++) {
        const action = JSON.parse(lines[i]!) as { index?: { _id: string } };
        if (action.index) {
          const doc = JSON.parse(lines[++i]!) as { path: string; ordinal: number; file_hash: string };
          if (doc.ordinal === 0) files.set(doc.path, doc.file_hash);
          items.push({ index: { _id: action.index._id, status: 201, result: "created" } });
        }
      }
      return send(200, { took: 1, errors: false, items });
    }
    if (path.endsWith("/_search")) {
      const after = (JSON.parse(body) as { search_after?: string[] }).search_after?.[0];
      const hits = [...files].sort((a, b) => (a[0] < b[0] ? -1 : 1)).filter(([p]) => after === undefined || p > after).slice(0, 1000);
      return send(200, { hits: { hits: hits.map(([p, h]) => ({ _source: { path: p, file_hash: h }, sort: [p] })) } });
    }
    if (path.endsWith("/_delete_by_query")) return send(200, { deleted: 0, failures: [] });
    return send(200, { acknowledged: true });
  });
});
let created = false;
let meta: unknown = null;
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const tmp = await mkdtemp(join(tmpdir(), "loupe-os-push-"));
const tree = join(tmp, "tree");
await cp(resolve(values.tree), tree, { recursive: true });
const { files: walked } = await walkWorkspace(tree);
const sourceBytes = walked.reduce((s, f) => s + f.size, 0);
const pack = await ensureDefaultPack({ cacheDir: cacheDir() });
const encoder = await packEncoder(await Encoder.open(pack, { batchSize: 32 }));
meta = { format: 1, pack: encoder.fingerprint, packName: encoder.name, analyzer: 2 };
const lexical = await openBridge();
const client = new OpenSearchClient({ url, index: "bench" });

async function run(label: string) {
  const [bytes0, requests0] = [bulkBytes, requests];
  const started = performance.now();
  const r = await pushRoot(tree, { client, name: "tree", encoder, lexical });
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`${label}: ${r.changed} changed files, ${r.chunks} chunks in ${seconds.toFixed(1)} s\n`);
  return { ...r, seconds: Math.round(seconds * 100) / 100, bulk_bytes: bulkBytes - bytes0, http_requests: requests - requests0 };
}

const first = await run("first push");
const again = await run("nothing changed");
await appendFile(join(tree, walked.find((f) => /\.(ts|js|md)$/.test(f.path))!.path), "\n// one more line\n");
const one = await run("one file changed");
await encoder.close();
server.close();
await rm(tmp, { recursive: true, force: true });

const result = {
  bench: "opensearch-push",
  tree: values.source ?? values.tree,
  files: walked.length,
  source_bytes: sourceBytes,
  first_push: first,
  nothing_changed: again,
  one_file_changed: one,
  bulk_bytes_per_source_byte: Math.round((first.bulk_bytes / sourceBytes) * 100) / 100,
  chunks_per_second: Math.round((first.chunks / first.seconds) * 10) / 10,
  machine: machineInfo(loadAtStart),
};
await writeFile(values.out!, JSON.stringify(result, null, 2) + "\n");
process.stderr.write(`bulk bytes per source byte ${result.bulk_bytes_per_source_byte}; ${result.chunks_per_second} chunks/s; wrote ${values.out}\n`);
