// The `loupe` command line. It parses arguments, opens what a command needs, prints results on
// stdout and logs on stderr; the work itself lives in the engine modules.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ErrorCode, isLoupeError, LoupeError } from "../errors.js";
import { readEvalSet, type EvalSet } from "../eval/beir.js";
import { EVAL_ENGINES, EVAL_MODES, runEval, type EvalEngine, type EvalMode, type EvalResult } from "../eval/run.js";
import { runWorkspaceEval } from "../eval/workspace.js";
import { DEFAULT_LIMITS } from "../chunk/index.js";
import { packEncoder, threadEncoder, type ChunkEncoder } from "../core/chunk-encoder.js";
import { loadLabels } from "../model/labels.js";
import { DEFAULT_FUSION, type FusionKind } from "../search/fusion.js";
import { DEFAULT_TOP_K, ensureDefaultPack } from "../model/default-pack.js";
import { Encoder, type ProviderChoice } from "../model/encoder.js";
import { loadPack, type ModelPack } from "../model/pack.js";
import { cacheDir } from "../paths.js";
import { walkWorkspace } from "../workspace/ignore.js";
import { progressReporter } from "./progress.js";
import { quotePath } from "./quote.js";
import { MCP_USAGE, runMcpCommand } from "../mcp/server.js";
import { cmdDaemon, cmdIndex, cmdLsp, cmdReindex, cmdRemoveRoot, cmdSearch, cmdStatus, type DaemonCliContext } from "./daemon-commands.js";

const USAGE = `loupe — local search for code and notes

Usage:
  loupe index <folder>
      Add the folder to the daemon (starting it when needed), show progress until it is indexed;
      the daemon keeps watching it afterwards.
  loupe search <query> [--root DIR] [--path GLOB]... [--exclude GLOB]... [--mode hybrid|lexical|latent] [--k N] [--json]
      Search every indexed root (--root DIR: only that root; it must have been added with
      \`loupe index DIR\`, so a typo never starts indexing a large folder).
      --path/--exclude: root-relative globs (src/**/*.ts). --json: {query, mode, hits: [{root, path,
      file, startLine, endLine, score, snippet, symbol, language, kind, concepts}], nextOffset, indexing}.
  loupe status [--json]            roots, files, chunks, pending changes, model pack
  loupe reindex [ROOT]             rebuild the index of ROOT (default: every root)
  loupe remove-root <folder>       stop indexing and watching a folder
  loupe daemon start|stop|status|run
      The daemon: one per user, on a private Unix socket ($LOUPE_SOCKET, else
      $XDG_RUNTIME_DIR/loupe/loupe.sock, else the cache folder). Other commands start it when
      needed; \`run\` keeps it in the foreground (logs on stderr).
  loupe lsp
      Serve an editor over stdio (LSP-style JSON-RPC), relayed to the shared daemon.
  ${MCP_USAGE}
  loupe eval --set DIR --mode lexical|dense|latent|hybrid [--json]
            [--fusion wsum|rrf] [--alpha A (lexical weight, all documents)] [--query-k N] [--doc-k N] [--engine index|memory]
      Score a retrieval mode on a BEIR-layout set (corpus.jsonl, queries.jsonl, qrels.tsv).
      --engine: the on-disk index engine (default) or the in-memory scorers, for comparison.
      --workspace: write the corpus as files into a temp folder and run it through the daemon's
      pipeline (ignore rules, chunking, index, search); hits map back to documents. Modes
      lexical, latent, hybrid; default fusion and Top-K. --chunk-chars N / --chunk-lines N: chunk
      limits for the run (default 1500 / 60), to measure their effect.
  loupe encode <text> [--query] [--k N] [--json]
      Print the text's active SAE latents with weights and labels.
  loupe pack [--json]
      Show the model pack in use (the default pack is converted on first use).
  loupe ls-files [ROOT] [--skipped] [--json]
      List the files under ROOT (default: .) that would be indexed; --skipped also lists every
      skipped path with its reason (.gitignore, .git/info/exclude, .loupeignore, defaults,
      secret (.env, private keys, credential files; re-include with !pattern in .loupeignore),
      binary, over 1 MiB, not UTF-8, symbolic link, unreadable). Paths with control characters,
      " or \\ are printed quoted, with C escapes. --json: one object
      {"root", "files", "skipped": [{"path", "reason"}]}.

Model options (eval, encode, pack, and daemon start / any command that starts the daemon):
  --pack DIR        use the model pack in DIR instead of the default pack
  --sae DIR         build the default pack with the SAE in DIR (experiments; see train/)
  --provider P      auto (default) | cpu | cuda | webgpu
  --threads N       CPU threads for the encoder (default: all cores)
  --quiet           no progress or log lines on stderr
`;

/**
 * Windows per encoder run in the daemon. The sparse head's activations are windows × 128 tokens ×
 * 16,384 latents, so the batch sets the daemon's memory: 8 windows peaked at 495 MB RSS against
 * 1,469 MB for 32, at the same speed (96 chunks × 3, interleaved runs on 2 cores: 48.5–49.7 s vs
 * 48.6 s).
 */
const DAEMON_BATCH_WINDOWS = 8;

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
  "chunk-chars": { type: "string" },
  "chunk-lines": { type: "string" },
  skipped: { type: "boolean" },
  path: { type: "string", multiple: true },
  exclude: { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  http: { type: "string" }, // loupe mcp (which parses its own arguments, --root repeatable)
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

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

function usageError(message: string): never {
  throw new LoupeError(ErrorCode.BadArgument, `${message}\nRun \`loupe --help\` for usage.`);
}

function positiveInt(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) usageError(`--${name} must be an integer from 1 to ${max}, got "${raw}"`);
  return n;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback?: T): T {
  if (raw === undefined) {
    if (fallback !== undefined) return fallback;
    usageError(`--${name} is required (${allowed.join(" | ")})`);
  }
  if (!(allowed as readonly string[]).includes(raw)) usageError(`--${name} must be one of ${allowed.join(", ")}; got "${raw}"`);
  return raw as T;
}

function makeLog(values: Values): (line: string) => void {
  return values.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`);
}

async function openPack(values: Values): Promise<ModelPack> {
  const log = makeLog(values);
  if (values.pack) return loadPack(resolve(values.pack));
  return ensureDefaultPack({ cacheDir: cacheDir(), log, ...(values.sae ? { saeDir: resolve(values.sae) } : {}) });
}

async function openEncoder(values: Values, batchSize?: number): Promise<Encoder> {
  const provider = oneOf<ProviderChoice>("provider", values.provider, ["auto", "cpu", "cuda", "webgpu"], "auto");
  const threads = values.threads === undefined ? undefined : positiveInt("threads", values.threads, 1, 256);
  return Encoder.open(await openPack(values), { provider, ...(threads ? { threads } : {}), ...(batchSize ? { batchSize } : {}), log: makeLog(values) });
}

/** The daemon's encoder: worker threads, so that its event loop never runs a session. */
async function openDaemonEncoder(values: Values): Promise<ChunkEncoder> {
  const provider = oneOf<ProviderChoice>("provider", values.provider, ["auto", "cpu", "cuda", "webgpu"], "auto");
  const threads = values.threads === undefined ? undefined : positiveInt("threads", values.threads, 1, 256);
  return threadEncoder(await openPack(values), { provider, batchSize: DAEMON_BATCH_WINDOWS, log: makeLog(values), ...(threads ? { threads } : {}) });
}

async function cmdEval(values: Values): Promise<void> {
  if (!values.set) usageError("eval needs --set DIR (a folder with corpus.jsonl, queries.jsonl, qrels.tsv)");
  const mode = oneOf<EvalMode>("mode", values.mode, EVAL_MODES);
  const fusion = {
    ...DEFAULT_FUSION,
    kind: oneOf<FusionKind>("fusion", values.fusion, ["wsum", "rrf"], DEFAULT_FUSION.kind),
    alpha: fraction("alpha", values.alpha, DEFAULT_FUSION.alpha),
    // --alpha sets one lexical weight for every document; without it code gets its own.
    alphaCode: values.alpha === undefined ? DEFAULT_FUSION.alphaCode : undefined,
  };
  const set = await readEvalSet(resolve(values.set));
  if (values.workspace) return evalWorkspace(values, set, mode);
  const encoder = mode === "lexical" ? undefined : await openEncoder(values);
  const progress = values.quiet ? null : progressReporter();
  const result = await runEval(set, {
    name: values.set.replace(/\/+$/, ""),
    mode,
    fusion,
    engine: oneOf<EvalEngine>("engine", values.engine, EVAL_ENGINES, "index"),
    ...(values["query-k"] ? { queryK: positiveInt("query-k", values["query-k"], DEFAULT_TOP_K.query, 65536) } : {}),
    ...(values["doc-k"] ? { docK: positiveInt("doc-k", values["doc-k"], DEFAULT_TOP_K.document, 65536) } : {}),
    ...(encoder ? { encoder } : {}),
    ...(progress ? { onProgress: progress.update } : {}),
  });
  progress?.stop();
  await encoder?.close();
  printEval(values, result);
}

async function evalWorkspace(values: Values, set: EvalSet, mode: EvalMode): Promise<void> {
  if (mode === "dense") usageError("--workspace runs the daemon's modes: lexical, latent or hybrid");
  if (values.fusion || values.alpha || values["query-k"] || values["doc-k"] || values.engine) usageError("--workspace uses the daemon's defaults; drop --fusion, --alpha, --query-k, --doc-k and --engine");
  const encoder = await openEncoder(values);
  const progress = values.quiet ? null : progressReporter();
  try {
    const result = await runWorkspaceEval(set, { name: values.set!.replace(/\/+$/, ""), mode, encoder: await packEncoder(encoder), ...(progress ? { onProgress: progress.update } : {}),
      chunkLimits: { maxChars: positiveInt("chunk-chars", values["chunk-chars"], DEFAULT_LIMITS.maxChars, 100_000), maxLines: positiveInt("chunk-lines", values["chunk-lines"], DEFAULT_LIMITS.maxLines, 100_000) } });
    progress?.stop();
    printEval(values, result);
  } finally {
    await encoder.close();
  }
}

function printEval(values: Values, result: EvalResult): void {
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + "\n");
    return;
  }
  process.stdout.write(
    `set ${result.set} · mode ${result.mode} · ${result.queries} queries\n` +
      `nDCG@10 ${result["ndcg@10"].toFixed(4)}  MRR@10 ${result["mrr@10"].toFixed(4)}  R@100 ${result["recall@100"].toFixed(4)}  (${result.seconds} s)\n`,
  );
}

function fraction(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (!Number.isFinite(x) || x < 0 || x > 1) usageError(`--${name} must be a number from 0 to 1, got "${raw}"`);
  return x;
}

async function cmdEncode(values: Values, positionals: string[]): Promise<void> {
  const text = positionals.join(" ");
  if (!text.trim()) usageError("encode needs a text, e.g. loupe encode \"open a database connection\"");
  const encoder = await openEncoder(values);
  try {
    const kind = values.query ? "query" : "document";
    const k = values.k === undefined ? undefined : positiveInt("k", values.k, 40, encoder.pack.manifest.sparseHead.saeWidth ?? 1);
    const [v] = await encoder.encodeSparse([text], kind, k);
    const labels = await loadLabels(encoder.pack);
    const latents = Array.from(v!.ids, (id, i) => ({ id, weight: Math.round(v!.weights[i]! * 10000) / 10000, label: labels?.[id] ?? "" }));
    if (values.json) {
      process.stdout.write(JSON.stringify({ latents }) + "\n");
      return;
    }
    if (latents.length === 0) process.stdout.write("no active latents\n");
    for (const l of latents) process.stdout.write(`${String(l.id).padStart(6)}  ${l.weight.toFixed(4)}  ${l.label}\n`);
  } finally {
    await encoder.close();
  }
}

async function cmdPack(values: Values): Promise<void> {
  const encoder = await openEncoder(values);
  const m = encoder.pack.manifest;
  await encoder.close();
  if (values.json) {
    process.stdout.write(JSON.stringify({ dir: encoder.pack.dir, provider: encoder.provider, manifest: m }) + "\n");
    return;
  }
  process.stdout.write(
    `${m.name} ${m.version}\n  fingerprint ${m.fingerprint}\n  folder      ${encoder.pack.dir}\n` +
      `  source      ${m.source} (${m.license})\n  provider    ${encoder.provider}\n` +
      `  windows     ${m.maxTokens} tokens, overlap ${m.windowOverlap}; hidden size ${m.hiddenSize}\n` +
      `  sparse head layer ${m.sparseHead.layer}, SAE ${m.sparseHead.saeWidth ?? "none yet"}; top-k ${m.topK.query}/${m.topK.document}\n`,
  );
}

async function cmdLsFiles(values: Values, positionals: string[]): Promise<void> {
  if (positionals.length > 1) usageError("ls-files takes one root folder");
  const root = resolve(positionals[0] ?? ".");
  const { files, skipped } = await walkWorkspace(root);
  makeLog(values)(`${files.length} files to index under ${root}, ${skipped.length} paths skipped`);
  if (values.json) {
    process.stdout.write(JSON.stringify({ root, files: files.map((f) => f.path), skipped }) + "\n");
    return;
  }
  let out = files.map((f) => `${quotePath(f.path)}\n`).join("");
  if (values.skipped) out += skipped.map((s) => `skipped: ${quotePath(s.path)} — ${s.reason}\n`).join("");
  process.stdout.write(out);
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
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  try {
    const ctx: DaemonCliContext = { values, usageError, positiveInt, oneOf, openEncoderForDaemon: () => openDaemonEncoder(values) };
    if (command === "search") await cmdSearch(ctx, rest);
    else if (command === "index") await cmdIndex(ctx, rest);
    else if (command === "status") await cmdStatus(ctx);
    else if (command === "reindex") await cmdReindex(ctx, rest);
    else if (command === "remove-root") await cmdRemoveRoot(ctx, rest);
    else if (command === "daemon") await cmdDaemon(ctx, rest);
    else if (command === "lsp") await cmdLsp(ctx);
    else if (command === "mcp") await runMcpCommand(argv);
    else if (command === "eval") await cmdEval(values);
    else if (command === "pack") await cmdPack(values);
    else if (command === "encode") await cmdEncode(values, rest);
    else if (command === "ls-files") await cmdLsFiles(values, rest);
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
