// A stand-in for an OpenSearch cluster over real HTTP, for contract tests (no OpenSearch can be
// installed on these machines). It records every request, keeps documents in memory, answers
// with the response shapes OpenSearch documents (index creation, _mapping, _bulk items,
// _delete_by_query counts, _search/_msearch hits, errors as {error: {type, reason}, status}),
// evaluates the filter subset Loupe sends (bool filter/should/must, term, terms, range, prefix),
// and can be told to push back (429s) to test retries. Scoring is not OpenSearch's: _msearch
// answers each search with the documents its filters keep, scored by a plain dot product of
// query_tokens with the rank_features (latent) or of boosts with term counts (lexical) — enough to
// check what Loupe sends and how it fuses what comes back; the real scoring is checked against
// Lucene itself (test/integration/opensearch-lucene.test.ts).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Recorded {
  method: string;
  path: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: string;
}

type Doc = Record<string, unknown>;

export class FakeOpenSearch {
  readonly requests: Recorded[] = [];
  readonly indices = new Map<string, { body: Record<string, unknown>; docs: Map<string, Doc> }>();
  /** Responses to give before normal service: whole-request statuses, or bulk item statuses. */
  readonly pushBack: Array<{ status: number; retryAfter?: string } | { itemStatus: number; items: number }> = [];
  private server!: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.read(req).then((body) => {
        const path = req.url ?? "/";
        this.requests.push({ method: req.method ?? "", path, contentType: req.headers["content-type"], authorization: req.headers.authorization, body });
        const { status, json, headers } = this.answer(req.method ?? "GET", path, body);
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(req.method === "HEAD" || json === undefined ? undefined : JSON.stringify(json));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server.close(r));
  }

  private read(req: IncomingMessage): Promise<string> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
  }

  docs(index: string): Doc[] {
    return [...(this.indices.get(index)?.docs.values() ?? [])];
  }

  private answer(method: string, rawPath: string, body: string): { status: number; json?: unknown; headers?: Record<string, string> } {
    const next = this.pushBack[0];
    if (next && "status" in next) {
      this.pushBack.shift();
      return { status: next.status, json: { error: { type: "rejected_execution_exception", reason: "rejected execution" }, status: next.status }, ...(next.retryAfter ? { headers: { "retry-after": next.retryAfter } } : {}) };
    }
    const path = rawPath.split("?")[0]!;
    const parts = path.split("/").filter(Boolean);
    const missing = (index: string) => ({ status: 404, json: { error: { type: "index_not_found_exception", reason: `no such index [${index}]` }, status: 404 } });
    if (parts.length === 1 && !parts[0]!.startsWith("_")) {
      const index = parts[0]!;
      if (method === "HEAD") return { status: this.indices.has(index) ? 200 : 404 };
      if (method === "PUT") {
        if (this.indices.has(index)) return { status: 400, json: { error: { type: "resource_already_exists_exception", reason: `index [${index}] already exists` }, status: 400 } };
        this.indices.set(index, { body: JSON.parse(body) as Record<string, unknown>, docs: new Map() });
        return { status: 200, json: { acknowledged: true, shards_acknowledged: true, index } };
      }
      if (method === "DELETE") return this.indices.delete(index) ? { status: 200, json: { acknowledged: true } } : missing(index);
    }
    if (parts[0] === "_bulk" && method === "POST") return this.bulk(body);
    if (parts[0] === "_msearch") {
      const lines = body.split("\n").filter(Boolean);
      const responses = [];
      for (let i = 0; i < lines.length; i += 2) {
        const { index } = JSON.parse(lines[i]!) as { index: string };
        responses.push({ took: 1, timed_out: false, status: 200, hits: { total: { value: 0, relation: "eq" }, hits: this.search(index, JSON.parse(lines[i + 1]!)) } });
      }
      return { status: 200, json: { took: 1, responses } };
    }
    const index = parts[0]!;
    const entry = this.indices.get(index);
    if (!entry) return missing(index);
    if (parts[1] === "_mapping") return { status: 200, json: { [index]: { mappings: (entry.body as { mappings: unknown }).mappings } } };
    if (parts[1] === "_refresh") return { status: 200, json: { _shards: { total: 1, successful: 1, failed: 0 } } };
    if (parts[1] === "_count") return { status: 200, json: { count: entry.docs.size } };
    if (parts[1] === "_delete_by_query") {
      const { query } = JSON.parse(body) as { query: unknown };
      let deleted = 0;
      for (const [id, doc] of entry.docs) if (matches(doc, query)) (entry.docs.delete(id), deleted++);
      return { status: 200, json: { took: 1, timed_out: false, total: deleted, deleted, failures: [] } };
    }
    if (parts[1] === "_search") return { status: 200, json: { took: 1, hits: { hits: this.search(index, JSON.parse(body)) } } };
    return { status: 400, json: { error: { type: "illegal_argument_exception", reason: `unsupported ${method} ${path}` }, status: 400 } };
  }

  private bulk(body: string): { status: number; json: unknown } {
    const lines = body.split("\n");
    if (lines[lines.length - 1] !== "") return { status: 400, json: { error: { type: "illegal_argument_exception", reason: "The bulk request must be terminated by a newline [\\n]" }, status: 400 } };
    const items: unknown[] = [];
    const refuse = this.pushBack[0] && "itemStatus" in this.pushBack[0] ? (this.pushBack.shift() as { itemStatus: number; items: number }) : null;
    let refused = 0;
    for (let i = 0; i < lines.length - 1; i++) {
      const action = JSON.parse(lines[i]!) as Record<string, { _index: string; _id: string }>;
      const [op, meta] = Object.entries(action)[0]!;
      const entry = this.indices.get(meta._index);
      if (op === "index") i++;
      if (refuse && refused < refuse.items) {
        refused++;
        items.push({ [op]: { _index: meta._index, _id: meta._id, status: refuse.itemStatus, error: { type: "es_rejected_execution_exception", reason: "rejected execution of coordinating operation" } } });
        continue;
      }
      if (!entry) {
        items.push({ [op]: { _index: meta._index, _id: meta._id, status: 404, error: { type: "index_not_found_exception", reason: "no such index" } } });
        continue;
      }
      if (op === "index") {
        const source = JSON.parse(lines[i]!) as Doc;
        const bad = Object.entries((source.latents ?? {}) as Record<string, number>).find(([, v]) => !(v > 0));
        if (bad) {
          items.push({ index: { _index: meta._index, _id: meta._id, status: 400, error: { type: "mapper_parsing_exception", reason: `failed to parse field [latents] of type [rank_features]` } } });
          continue;
        }
        const created = !entry.docs.has(meta._id);
        entry.docs.set(meta._id, { ...source, _id: meta._id });
        items.push({ index: { _index: meta._index, _id: meta._id, _version: 1, result: created ? "created" : "updated", status: created ? 201 : 200 } });
      } else if (op === "delete") {
        const found = entry.docs.delete(meta._id);
        items.push({ delete: { _index: meta._index, _id: meta._id, result: found ? "deleted" : "not_found", status: found ? 200 : 404 } });
      }
    }
    return { status: 200, json: { took: 3, errors: items.some((it) => Object.values(it as Record<string, { status: number }>)[0]!.status >= 300), items } };
  }

  private search(index: string, body: { size?: number; query: unknown; sort?: unknown; search_after?: unknown[] }): unknown[] {
    const entry = this.indices.get(index);
    if (!entry) return [];
    const docs = [...entry.docs.values()].filter((d) => matches(d, body.query));
    const scored = docs.map((d) => ({ d, score: score(d, body.query) }));
    if (body.sort) {
      scored.sort((a, b) => String(a.d.path).localeCompare(String(b.d.path)));
      const after = body.search_after?.[0];
      const rest = after === undefined ? scored : scored.filter((s) => String(s.d.path) > String(after));
      return rest.slice(0, body.size ?? 10).map((s) => ({ _index: index, _id: s.d._id, _score: null, _source: s.d, sort: [s.d.path] }));
    }
    scored.sort((a, b) => b.score - a.score || String(a.d._id).localeCompare(String(b.d._id)));
    return scored.filter((s) => s.score > 0).slice(0, body.size ?? 10).map((s) => ({ _index: index, _id: s.d._id, _score: s.score, _source: s.d }));
  }
}

function matches(doc: Doc, q: unknown): boolean {
  if (!q || typeof q !== "object") return true;
  const [type, arg] = Object.entries(q as Record<string, unknown>)[0]!;
  const a = arg as Record<string, unknown>;
  switch (type) {
    case "bool": {
      const all = (k: string) => ((a[k] as unknown[]) ?? []).every((c) => matches(doc, c));
      const should = (a.should as unknown[]) ?? [];
      const min = (a.minimum_should_match as number | undefined) ?? 0;
      return all("filter") && all("must") && should.filter((c) => matches(doc, c)).length >= min;
    }
    case "term": {
      const [field, v] = Object.entries(a)[0]!;
      const value = typeof v === "object" && v !== null ? (v as { value: unknown }).value : v;
      return field === "terms" ? String(doc.terms).split(" ").includes(String(value)) : doc[field] === value;
    }
    case "terms": {
      const [field, values] = Object.entries(a)[0]!;
      return (values as unknown[]).includes(doc[field]);
    }
    case "range": {
      const [field, r] = Object.entries(a)[0]! as [string, { gte?: number }];
      return r.gte === undefined || Number(doc[field]) >= r.gte;
    }
    case "prefix": {
      const [field, p] = Object.entries(a)[0]!;
      return String(doc[field]).startsWith(String(p));
    }
    case "neural_sparse":
      return true;
    default:
      throw new Error(`fake OpenSearch: unsupported query ${type}`);
  }
}

function score(doc: Doc, q: unknown): number {
  if (!q || typeof q !== "object") return 0;
  const [type, arg] = Object.entries(q as Record<string, unknown>)[0]!;
  const a = arg as Record<string, unknown>;
  if (type === "bool") return [...((a.should as unknown[]) ?? []), ...((a.must as unknown[]) ?? [])].reduce((s: number, c) => s + (matches(doc, c) ? score(doc, c) : 0), 0);
  if (type === "term") {
    const [field, v] = Object.entries(a)[0]!;
    if (field !== "terms") return 0;
    const { value, boost } = typeof v === "object" && v !== null ? (v as { value: string; boost?: number }) : { value: String(v), boost: 1 };
    return String(doc.terms).split(" ").filter((t) => t === value).length * (boost ?? 1);
  }
  if (type === "neural_sparse") {
    const [field, spec] = Object.entries(a)[0]! as [string, { query_tokens: Record<string, number> }];
    const features = (doc[field] ?? {}) as Record<string, number>;
    return Object.entries(spec.query_tokens).reduce((s, [t, w]) => s + w * (features[t] ?? 0), 0);
  }
  return 0;
}
