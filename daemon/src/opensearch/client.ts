// A small OpenSearch REST client for what Loupe does on a cluster: create or check its index,
// `_bulk` writes with retries and back-pressure, `_delete_by_query`, `_msearch`, and paging
// through a root's files. Node's fetch; credentials in the URL become a Basic header.
//
// Back-pressure: one request in flight per client; bulk bodies are cut at `maxBulkBytes` or
// `maxBulkActions`; a 429 (the cluster's write queue is full), 502, 503 or 504 is retried after
// an exponential wait (or the response's Retry-After), and so are the items of a bulk response
// that failed with 429 alone. Any other failed item fails the push, naming the document and the
// cluster's reason.
import { ErrorCode, LoupeError } from "@loupe/protocol";
import { bulkBody, indexBody, msearchBody, OPENSEARCH_FORMAT, readIndexMeta, type BulkAction, type IndexSettings, type LoupeIndexMeta } from "./format.js";

export interface ClientOptions {
  /** The cluster, e.g. https://user:pass@search.example.com:9200 */
  url: string;
  index: string;
  /** Tries per request before giving up (default 6). */
  tries?: number;
  /** Largest bulk body in bytes (default 5 MiB) and most actions in one (default 1,000). */
  maxBulkBytes?: number;
  maxBulkActions?: number;
  /** First wait before a retry in ms (default 250), doubled each time. */
  backoffMs?: number;
  log?: (line: string) => void;
}

export interface SearchHit {
  id: string;
  score: number;
  source: Record<string, unknown>;
}

const RETRIED = new Set([429, 502, 503, 504]);

export function clusterError(message: string): LoupeError {
  return new LoupeError(ErrorCode.BadArgument, message);
}

export class OpenSearchClient {
  readonly index: string;
  private readonly base: string;
  private readonly auth: string | undefined;
  private readonly o: Required<Omit<ClientOptions, "log" | "url" | "index">> & { log: (line: string) => void };

  constructor(options: ClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw clusterError(`not an OpenSearch URL: ${options.url.slice(0, 80)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw clusterError(`the OpenSearch URL must be http or https, got ${url.protocol}`);
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(options.index) || options.index.length > 255) {
      throw clusterError(`"${options.index.slice(0, 80)}" is not an OpenSearch index name (lower case letters, digits, . _ -)`);
    }
    this.auth = url.username ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}` : undefined;
    url.username = "";
    url.password = "";
    this.base = url.toString().replace(/\/+$/, "");
    this.index = options.index;
    this.o = { tries: options.tries ?? 6, maxBulkBytes: options.maxBulkBytes ?? 5 << 20, maxBulkActions: options.maxBulkActions ?? 1000, backoffMs: options.backoffMs ?? 250, log: options.log ?? (() => {}) };
  }

  /** The cluster's address without credentials (for logs and status). */
  get address(): string {
    return this.base;
  }

  /** One request, retried on 429/502/503/504 and on network errors. Returns the status and the parsed body. */
  async request(method: string, path: string, body?: string | object, contentType = "application/json"): Promise<{ status: number; body: unknown }> {
    const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(`${this.base}${path}`, {
          method,
          headers: { ...(text !== undefined ? { "content-type": contentType } : {}), ...(this.auth ? { authorization: this.auth } : {}), accept: "application/json" },
          ...(text !== undefined ? { body: text } : {}),
        });
      } catch (e) {
        if (attempt >= this.o.tries) throw clusterError(`OpenSearch at ${this.base} cannot be reached (${(e as Error).cause ?? (e as Error).message}) after ${attempt} tries`);
        await this.wait(attempt, null, `${method} ${path}: ${(e as Error).message}`);
        continue;
      }
      const raw = await response.text();
      if (RETRIED.has(response.status) && attempt < this.o.tries) {
        await this.wait(attempt, response.headers.get("retry-after"), `${method} ${path}: HTTP ${response.status}`);
        continue;
      }
      let parsed: unknown = raw;
      try {
        parsed = raw ? JSON.parse(raw) : null;
      } catch {
        // not JSON (a proxy's error page): kept as text for the message
      }
      return { status: response.status, body: parsed };
    }
  }

  private async wait(attempt: number, retryAfter: string | null, why: string): Promise<void> {
    const seconds = retryAfter !== null ? Number(retryAfter) : NaN;
    const ms = Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 60_000) : this.o.backoffMs * 2 ** (attempt - 1);
    this.o.log(`opensearch: ${why}; retrying in ${ms} ms (try ${attempt + 1} of ${this.o.tries})`);
    await new Promise((r) => setTimeout(r, ms));
  }

  private fail(what: string, r: { status: number; body: unknown }): never {
    const reason = (r.body as { error?: { reason?: string; type?: string } })?.error;
    const text = reason ? `${reason.type ?? "error"}: ${reason.reason ?? ""}` : typeof r.body === "string" ? r.body.slice(0, 200) : JSON.stringify(r.body)?.slice(0, 200);
    throw clusterError(`${what} failed on OpenSearch (HTTP ${r.status}): ${text}`);
  }

  /**
   * Creates the index with Loupe's mapping, or checks that an existing one holds vectors of the
   * same pack and analyzer: vectors of two packs never mix, on a cluster as locally.
   */
  async ensureIndex(settings: IndexSettings): Promise<"created" | "exists"> {
    const head = await this.request("HEAD", `/${this.index}`);
    if (head.status === 404) {
      const r = await this.request("PUT", `/${this.index}`, indexBody(settings));
      if (r.status >= 300) {
        // Another pusher created it first: check it like an existing one.
        if ((r.body as { error?: { type?: string } })?.error?.type !== "resource_already_exists_exception") this.fail(`creating index ${this.index}`, r);
      } else return "created";
    } else if (head.status >= 300) this.fail(`checking index ${this.index}`, head);
    const meta = await this.meta();
    if (!meta) throw clusterError(`index ${this.index} exists but was not made by Loupe (its mapping has no _meta.loupe); choose another --index`);
    if (meta.pack !== settings.pack || meta.analyzer !== settings.analyzer || meta.format !== OPENSEARCH_FORMAT) {
      throw new LoupeError(
        ErrorCode.PackFingerprintMismatch,
        `index ${this.index} holds vectors of model pack ${meta.packName} (${meta.pack.slice(0, 19)}…, analyzer ${meta.analyzer}, format ${meta.format}); ` +
          `this Loupe uses ${settings.packName} (${settings.pack.slice(0, 19)}…, analyzer ${settings.analyzer}, format ${OPENSEARCH_FORMAT}). ` +
          "Vectors of two packs cannot be mixed: push into another --index, or rebuild this one with --recreate.",
      );
    }
    return "exists";
  }

  async meta(): Promise<LoupeIndexMeta | null> {
    const r = await this.request("GET", `/${this.index}/_mapping`);
    if (r.status >= 300) this.fail(`reading the mapping of ${this.index}`, r);
    return readIndexMeta(r.body, this.index);
  }

  async deleteIndex(): Promise<void> {
    const r = await this.request("DELETE", `/${this.index}`);
    if (r.status >= 300 && r.status !== 404) this.fail(`deleting index ${this.index}`, r);
  }

  /** Writes `actions` in bodies of bounded size, one at a time; items refused with 429 are sent again. */
  async bulk(actions: readonly BulkAction[], seismic = false): Promise<{ written: number; requests: number }> {
    let written = 0;
    let requests = 0;
    let batch: BulkAction[] = [];
    let bytes = 0;
    const flush = async () => {
      let pending = batch;
      batch = [];
      bytes = 0;
      for (let attempt = 1; pending.length > 0; attempt++) {
        requests++;
        const r = await this.request("POST", "/_bulk", bulkBody(this.index, pending, seismic), "application/x-ndjson");
        if (r.status >= 300) this.fail("a bulk write", r);
        const items = (r.body as { items?: Array<Record<string, { status: number; _id?: string; error?: { type?: string; reason?: string } }>> }).items ?? [];
        if (items.length !== pending.length) throw clusterError(`a bulk write answered ${items.length} items for ${pending.length} actions`);
        const again: BulkAction[] = [];
        items.forEach((item, i) => {
          const result = Object.values(item)[0]!;
          if (result.status < 300 || (result.status === 404 && "delete" in pending[i]!)) written++;
          else if (result.status === 429) again.push(pending[i]!);
          else {
            const a = pending[i]!;
            const where = "index" in a ? `${a.index.path}:${a.index.startLine}` : `${a.delete.path}#${a.delete.ordinal}`;
            throw clusterError(`OpenSearch refused ${where} (HTTP ${result.status}): ${result.error?.type ?? "error"}: ${result.error?.reason ?? ""}`);
          }
        });
        if (again.length > 0) {
          if (attempt >= this.o.tries) throw clusterError(`OpenSearch kept refusing ${again.length} documents as too many requests (429) after ${attempt} tries`);
          await this.wait(attempt, null, `bulk: ${again.length} of ${pending.length} items refused with 429`);
        }
        pending = again;
      }
    };
    for (const a of actions) {
      const size = bulkBody(this.index, [a], seismic).length;
      if (batch.length > 0 && (bytes + size > this.o.maxBulkBytes || batch.length >= this.o.maxBulkActions)) await flush();
      batch.push(a);
      bytes += size;
    }
    if (batch.length > 0) await flush();
    return { written, requests };
  }

  /** Deletes what `query` matches (waiting for it to finish); returns how many documents went. */
  async deleteByQuery(query: object): Promise<number> {
    const r = await this.request("POST", `/${this.index}/_delete_by_query?conflicts=proceed&refresh=true`, { query });
    if (r.status >= 300) this.fail("a delete by query", r);
    return (r.body as { deleted?: number }).deleted ?? 0;
  }

  async refresh(): Promise<void> {
    const r = await this.request("POST", `/${this.index}/_refresh`);
    if (r.status >= 300) this.fail(`refreshing ${this.index}`, r);
  }

  /** Runs searches in one `_msearch`; a failed search fails the call. */
  async msearch(searches: readonly Record<string, unknown>[]): Promise<SearchHit[][]> {
    const r = await this.request("POST", "/_msearch", msearchBody(this.index, searches), "application/x-ndjson");
    if (r.status >= 300) this.fail("a search", r);
    const responses = (r.body as { responses?: Array<{ status?: number; error?: unknown; hits?: { hits?: Array<{ _id: string; _score: number; _source: Record<string, unknown> }> } }> }).responses ?? [];
    return responses.map((res) => {
      if (res.error) this.fail("a search", { status: res.status ?? 500, body: res });
      return (res.hits?.hits ?? []).map((h) => ({ id: h._id, score: h._score, source: h._source }));
    });
  }

  /** path → file hash of every file of `root` in the index (its ordinal-0 documents, paged by path). */
  async files(root: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let after: unknown[] | undefined;
    for (;;) {
      const body = {
        size: 1000,
        _source: ["path", "file_hash"],
        query: { bool: { filter: [{ term: { root } }, { term: { ordinal: 0 } }] } },
        sort: [{ path: "asc" }],
        ...(after ? { search_after: after } : {}),
      };
      const r = await this.request("POST", `/${this.index}/_search`, body);
      if (r.status >= 300) this.fail(`listing the files of ${root}`, r);
      const hits = (r.body as { hits?: { hits?: Array<{ _source: { path: string; file_hash: string }; sort: unknown[] }> } }).hits?.hits ?? [];
      for (const h of hits) out.set(h._source.path, h._source.file_hash);
      if (hits.length < 1000) return out;
      after = hits[hits.length - 1]!.sort;
    }
  }
}
