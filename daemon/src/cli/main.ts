// The `loupe` command line. It parses arguments, opens what a command needs, prints results on
// stdout and logs on stderr; the work itself lives in the engine modules. Only what every
// command needs is imported here: each command loads its own modules when it runs, so a
// `loupe search` against a running daemon does not load the model runtime, the index or the MCP
// SDK (start-up measured in docs/benchmarks.md).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ErrorCode, isLoupeError, LoupeError } from "@loupe/protocol/errors";
import { MCP_USAGE } from "@loupe/mcp/usage";
import { loupeCommand, loupeVersion } from "../host.js";
import type { DaemonCliContext } from "./daemon-commands.js";

const USAGE = `loupe — local search for code and notes

Usage:
  loupe index <folder>
      Add the folder to the daemon (starting it when needed), show progress until it is indexed;
      the daemon keeps watching it afterwards.
  loupe search <query> [--root DIR] [--path GLOB]... [--exclude GLOB]... [--mode hybrid|lexical|latent] [--k N] [--cluster] [--json]
      Search every indexed root (--root DIR: only that root; it must have been added with
      \`loupe index DIR\`, so a typo never starts indexing a large folder).
      --path/--exclude: root-relative globs (src/**/*.ts). --json: {query, mode, hits: [{root, path,
      file, startLine, endLine, score, snippet, snippetStartLine, snippetEndLine, symbol, language, kind,
      concepts}], nextOffset, indexing}. --cluster: search the shared OpenSearch index the daemon was
      started with (--opensearch URL) instead; --root then names a root as it was pushed.
  loupe status [--json]            roots, files, chunks, pending changes, model pack
  loupe reindex [ROOT]             rebuild the index of ROOT (default: every root)
  loupe remove-root <folder>       stop indexing and watching a folder
  loupe daemon start|stop|status|run
      The daemon: one per user, on a private Unix socket ($LOUPE_SOCKET, else
      $XDG_RUNTIME_DIR/loupe/loupe.sock, else the cache folder). Other commands start it when
      needed; \`run\` keeps it in the foreground (logs on stderr).
  loupe lsp [--stdio] [--provider …] [--threads N] [--pack DIR]
      A language server for one editor over stdio (any LSP client: its workspace-symbol search
      becomes Loupe's search; the editor's folders are indexed while it is open), relayed to the
      shared daemon, which stays when the editor leaves.
  ${MCP_USAGE}
  loupe eval --set DIR --mode lexical|dense|latent|hybrid [--json]
            [--fusion wsum|rrf] [--alpha A (lexical weight, all documents)] [--query-k N] [--doc-k N] [--engine index|memory]
      Score a retrieval mode on a BEIR-layout set (corpus.jsonl, queries.jsonl, qrels.tsv).
      --engine: the on-disk index engine (default) or the in-memory scorers, for comparison.
      --workspace: write the corpus as files into a temp folder and run it through the daemon's
      pipeline (ignore rules, chunking, index, search); hits map back to documents. Modes
      lexical, latent, hybrid; default fusion and Top-K. --chunk-chars N / --chunk-lines N: chunk
      limits for the run (default 1500 / 60), to measure their effect.
  loupe eval --tasks FILE|DIR --repos DIR [--index-dir DIR] [--mode M] [--json]
      Agent tasks (eval/tasks/*.json): each question is searched in its repository's checkout
      (DIR/<repo id>, at the pinned commit) and judged by whether the answering lines come
      first, in the top 3, in the top 10, and the answering file in the top 3. --index-dir keeps
      the indexes between runs (default: a temp folder, removed). Mode default hybrid.
      --rerank prior=P,symbol=S,diversity=D: re-ranking constants to measure (search/rerank.ts).
  loupe encode <text> [--query] [--k N] [--json]
      Print the text's active SAE latents with weights and labels.
  loupe pack [--json]
      Show the model pack in use (the default pack is converted on first use).
  loupe pack build --onnx FILE --tokenizer FILE (--layer N | --tap VALUE) --out DIR
            (--sae PATH [--sae-format loupe|gemma-scope|llama-scope]
             | --train-sae --corpus DIR [--sae-width 4096] [--sae-k 32] [--sae-tokens 200000] [--sae-epochs 2])
            [--precision float|int8|int8-all]
            [--max-tokens N] [--overlap N] [--query-prefix TEXT] [--document-prefix TEXT]
            [--normalize none|split-identifiers] [--top-k Q,D] [--labels-corpus DIR]
            [--languages en,de,…|*] [--tokenizer-config FILE] [--name NAME] [--provider P]
      Build a model pack from any ONNX encoder (e.g. optimum-cli export onnx) and an SAE over one
      of its layers: Loupe's own, Gemma Scope (params.npz) or Llama Scope (folder with
      hyperparams.json), or one trained here on the layer's states over a corpus (--train-sae).
      The layer's states, the SAE, the saturation, max-pooling and Top-K become one graph; use
      the pack with --pack DIR (docs/model-packs.md).
      --list-values --onnx FILE: print the graph's values (to choose --tap) and exit.
  loupe opensearch push <folder> [--url URL] [--index NAME] [--name ROOT] [--recreate] [--seismic]
  loupe opensearch search <query> [--url URL] [--index NAME] [--root ROOT] [--kind code|notes] [--mode M] [--k N] [--json]
  loupe opensearch status [--url URL] [--index NAME]
      A shared index on an OpenSearch cluster (docs/scale-out.md): push chunks a folder, encodes
      what changed and writes it (BM25 terms + latents as rank_features; deletes what is gone);
      search encodes the question here and fuses BM25 and neural_sparse from the cluster.
      --url defaults to $LOUPE_OPENSEARCH_URL, --index to "loupe", --name to the folder's name.
  loupe ls-files [ROOT] [--skipped] [--json]
      List the files under ROOT (default: .) that would be indexed; --skipped also lists every
      skipped path with its reason (.gitignore, .git/info/exclude, .loupeignore, defaults,
      secret (.env, private keys, credential files; re-include with !pattern in .loupeignore),
      binary, over 1 MiB, not UTF-8, symbolic link, unreadable). Paths with control characters,
      " or \\ are printed quoted, with C escapes. --json: one object
      {"root", "files", "skipped": [{"path", "reason"}]}.

Model options (eval, encode, pack, and daemon start / any command that starts the daemon):
  --pack DIR        use the model pack in DIR instead of the default pack
  --opensearch URL  the daemon also searches a shared OpenSearch index (loupe search --cluster,
                    MCP/LSP scope "cluster"); --opensearch-index NAME (default "loupe");
                    --opensearch-push: it also feeds its roots into that index when they settle
  --sae DIR         build the default pack with the SAE in DIR (experiments; see train/)
  --provider P      auto (default) | cpu | cuda | webgpu
  --threads N       CPU threads for the encoder (default: all cores)
  --quiet           no progress or log lines on stderr
`;

const OPTIONS = {
  root: { type: "string" },
  mode: { type: "string" },
  k: { type: "string" },
  json: { type: "boolean" },
  set: { type: "string" },
  pack: { type: "string" },
  sae: { type: "string" },
  provider: { type: "string" },
  threads: { type: "string" },
  quiet: { type: "boolean" },
  query: { type: "boolean" },
  fusion: { type: "string" },
  alpha: { type: "string" },
  "query-k": { type: "string" },
  "doc-k": { type: "string" },
  engine: { type: "string" },
  workspace: { type: "boolean" },
  tasks: { type: "string" },
  repos: { type: "string" },
  "index-dir": { type: "string" },
  rerank: { type: "string" },
  "chunk-chars": { type: "string" },
  "chunk-lines": { type: "string" },
  skipped: { type: "boolean" },
  path: { type: "string", multiple: true },
  exclude: { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  // loupe pack build
  onnx: { type: "string" },
  tokenizer: { type: "string" },
  "tokenizer-config": { type: "string" },
  layer: { type: "string" },
  tap: { type: "string" },
  "sae-format": { type: "string" },
  out: { type: "string" },
  name: { type: "string" },
  precision: { type: "string" },
  "max-tokens": { type: "string" },
  overlap: { type: "string" },
  "query-prefix": { type: "string" },
  "document-prefix": { type: "string" },
  normalize: { type: "string" },
  "top-k": { type: "string" },
  "labels-corpus": { type: "string" },
  "list-values": { type: "boolean" },
  "train-sae": { type: "boolean" },
  corpus: { type: "string" },
  "sae-width": { type: "string" },
  "sae-k": { type: "string" },
  "sae-tokens": { type: "string" },
  "sae-epochs": { type: "string" },
  languages: { type: "string" },
  // loupe opensearch; a daemon's shared index (--opensearch, --opensearch-index); loupe search --cluster
  opensearch: { type: "string" },
  "opensearch-index": { type: "string" },
  "opensearch-push": { type: "boolean" },
  cluster: { type: "boolean" },
  url: { type: "string" },
  index: { type: "string" },
  recreate: { type: "boolean" },
  seismic: { type: "boolean" },
  kind: { type: "string" },
  http: { type: "string" }, // loupe mcp (which parses its own arguments, --root repeatable)
  // loupe lsp: what language clients add to a server's command line (vscode-languageclient
  // passes both); the transport is always stdio, and the editor's process id comes in `initialize`.
  stdio: { type: "boolean" },
  clientProcessId: { type: "string" },
} satisfies ParseArgsConfig["options"];

/**
 * `argv` with each value-taking option that is followed by a negative number joined into
 * `--name=value`: parseArgs reads `-1` as an option of its own and fails with "argument is
 * ambiguous", where the option's own check says what range it takes.
 */
export function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const name = arg.startsWith("--") ? arg.slice(2) : null;
    const next = argv[i + 1];
    if (name !== null && Object.hasOwn(OPTIONS, name) && OPTIONS[name as keyof typeof OPTIONS].type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

export function usageError(message: string): never {
  throw new LoupeError(ErrorCode.BadArgument, `${message}\nRun \`loupe --help\` for usage.`);
}

export function positiveInt(name: string, raw: string | undefined, fallback: number, max: number): number {
  return raw === undefined ? fallback : intInRange(name, raw, 1, max);
}

/** An option's integer value in min–max, or a usage error naming the range. */
export function intInRange(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) usageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback?: T): T {
  if (raw === undefined) {
    if (fallback !== undefined) return fallback;
    usageError(`--${name} is required (${allowed.join(" | ")})`);
  }
  if (!(allowed as readonly string[]).includes(raw)) usageError(`--${name} must be one of ${allowed.join(", ")}; got "${raw}"`);
  return raw as T;
}

export function makeLog(values: Values): (line: string) => void {
  return values.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`);
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`loupe: ${(e as Error).message}\nRun \`loupe --help\` for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    process.stdout.write(`${loupeVersion()}\n`);
    return 0;
  }
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  try {
    const engine = () => import("./engine-commands.js");
    const ctx: DaemonCliContext = { values, usageError, positiveInt, oneOf, openEncoderForDaemon: async () => (await engine()).openDaemonEncoder(values) };
    const daemon = () => import("./daemon-commands.js");
    if (command === "search") await (await daemon()).cmdSearch(ctx, rest);
    else if (command === "index") await (await daemon()).cmdIndex(ctx, rest);
    else if (command === "status") await (await daemon()).cmdStatus(ctx);
    else if (command === "reindex") await (await daemon()).cmdReindex(ctx, rest);
    else if (command === "remove-root") await (await daemon()).cmdRemoveRoot(ctx, rest);
    else if (command === "daemon") await (await daemon()).cmdDaemon(ctx, rest);
    else if (command === "lsp") await (await import("@loupe/lsp")).runLspCommand(values, { version: loupeVersion(), loupeCommand: loupeCommand() });
    else if (command === "mcp") await (await import("@loupe/mcp")).runMcpCommand(argv, { version: loupeVersion(), loupeCommand: loupeCommand() });
    else if (command === "eval") await (await engine()).cmdEval(values);
    else if (command === "pack" && rest[0] === "build") await (await engine()).cmdPackBuild(values, rest.slice(1));
    else if (command === "pack") {
      if (rest.length > 0) usageError(`unknown pack command "${rest[0]}" (loupe pack, or loupe pack build)`);
      await (await engine()).cmdPack(values);
    }
    else if (command === "encode") await (await engine()).cmdEncode(values, rest);
    else if (command === "opensearch") await (await import("./opensearch-commands.js")).cmdOpenSearch(values, rest);
    else if (command === "ls-files") await (await engine()).cmdLsFiles(values, rest);
    else usageError(`unknown command "${command}"`);
    return 0;
  } catch (e) {
    if (isLoupeError(e)) {
      process.stderr.write(`loupe: ${e.message}\n`);
      return e.code === ErrorCode.BadArgument ? 2 : 1;
    }
    throw e;
  }
}
