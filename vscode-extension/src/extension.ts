// Loupe for VS Code: a thin language client of `loupe lsp` (which relays to the shared Loupe
// daemon). It adds what an editor's symbol picker cannot: a search box that ranks by meaning as
// you type, results that stay in a view, "find similar" on a selection, an explanation of a
// hit, a status-bar item, and Loupe's MCP server registered for agent mode.
import * as vscode from "vscode";
import { LanguageClient, type LanguageClientOptions } from "vscode-languageclient/node";
import {
  indexingNote, LIMITS, Requests, type ExplainResult, type SearchHit, type SearchMode, type SearchResult, type StatusResult,
} from "@loupe/protocol";
import { hitLabel, hitRange, ResultsView } from "./results.js";
import { CrashPolicy, explainMissing, findLoupe, isRunning, loupeCommandLine, serverOptions, type LoupeExecutable } from "./server.js";

/** Quiet time after a keystroke before the QuickPick searches. */
const TYPING_DEBOUNCE_MS = 200;
/** How often the status bar asks for status: often while indexing, rarely when idle. */
const STATUS_BUSY_MS = 1_000;
const STATUS_IDLE_MS = 15_000;

let client: LanguageClient | null = null;
let exe: LoupeExecutable | null = null;

function config() {
  const c = vscode.workspace.getConfiguration("loupe");
  return {
    path: c.get<string>("path", ""),
    exclude: c.get<string[]>("exclude", []),
    resultCount: Math.min(Math.max(c.get<number>("resultCount", 20), 1), LIMITS.k),
    mode: c.get<SearchMode>("mode", "hybrid"),
  };
}

function folders(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file").map((f) => f.uri.fsPath);
}

/** A request to `loupe lsp`; a clear error when it is not running. */
async function request<R>(method: string, params?: unknown): Promise<R> {
  if (!isRunning(client)) throw new Error("Loupe is not running (see the status bar, or run \"Loupe: Show Log\")");
  return client.sendRequest<R>(method, params);
}

/** Opens a hit at its answering lines. */
async function openHit(h: SearchHit, o: { preview: boolean; preserveFocus: boolean }): Promise<void> {
  const range = hitRange(h);
  const editor = await vscode.window.showTextDocument(vscode.Uri.file(h.file), { preview: o.preview, preserveFocus: o.preserveFocus, selection: new vscode.Range(range.start, range.start) });
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

interface HitItem extends vscode.QuickPickItem {
  hit: SearchHit;
}

function hitItem(h: SearchHit): HitItem {
  const lines = h.snippet.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return {
    hit: h,
    label: `$(${h.kind === "code" ? "symbol-method" : "note"}) ${hitLabel(h)}`,
    description: `${h.path}:${h.snippetStartLine}`,
    detail: lines.slice(h.symbol ? 0 : 1, 3).join("  ⏎  ") || undefined,
    // Loupe ranks by meaning: the QuickPick must show every hit, not only those whose label matches the typed words.
    alwaysShow: true,
  };
}

/** "Loupe: Search": searches as you type, previews the focused hit, opens the accepted one; the hits land in the view. */
function searchCommand(results: ResultsView): () => void {
  return () => {
    const qp = vscode.window.createQuickPick<HitItem>();
    qp.placeholder = "Search code and notes by meaning or by exact words (a question, a concept, an identifier)";
    qp.matchOnDescription = false;
    qp.matchOnDetail = false;
    const selection = vscode.window.activeTextEditor?.selection;
    if (selection && !selection.isEmpty && selection.isSingleLine) qp.value = vscode.window.activeTextEditor!.document.getText(selection);
    let timer: NodeJS.Timeout | undefined;
    let asked = 0;
    const run = async (query: string) => {
      const n = ++asked;
      if (query.trim() === "") {
        qp.items = [];
        qp.title = undefined;
        return;
      }
      qp.busy = true;
      try {
        const c = config();
        const r = await request<SearchResult>(Requests.search.method, { query: query.slice(0, LIMITS.queryChars), k: c.resultCount, mode: c.mode, ...(c.exclude.length ? { exclude: c.exclude } : {}) });
        if (n !== asked) return; // a later keystroke's search owns the list
        qp.items = r.hits.map(hitItem);
        qp.title = indexingNote(r.indexing) ?? `${r.hits.length} hits (${r.mode})`;
        results.show({ title: JSON.stringify(query), query, hits: r.hits });
      } catch (e) {
        if (n === asked) qp.title = `Loupe: ${(e as Error).message}`;
      } finally {
        if (n === asked) qp.busy = false;
      }
    };
    qp.onDidChangeValue((v) => {
      clearTimeout(timer);
      timer = setTimeout(() => void run(v), TYPING_DEBOUNCE_MS);
    });
    qp.onDidChangeActive((items) => {
      if (items[0]) void openHit(items[0].hit, { preview: true, preserveFocus: true });
    });
    qp.onDidAccept(() => {
      const item = qp.selectedItems[0] ?? qp.activeItems[0];
      if (!item) return;
      qp.hide();
      void openHit(item.hit, { preview: false, preserveFocus: false });
    });
    qp.onDidHide(() => {
      clearTimeout(timer);
      qp.dispose();
    });
    qp.show();
    if (qp.value) void run(qp.value);
  };
}

/** The passage "Find Similar" starts from: the selection, else the enclosing symbol, else the paragraph at the cursor. */
async function passageAt(editor: vscode.TextEditor): Promise<{ path: string; startLine: number; endLine: number }> {
  const doc = editor.document;
  const sel = editor.selection;
  if (!sel.isEmpty) return { path: doc.uri.fsPath, startLine: sel.start.line + 1, endLine: sel.end.line + (sel.end.character === 0 && sel.end.line > sel.start.line ? 0 : 1) };
  const symbols = (await vscode.commands.executeCommand<vscode.DocumentSymbol[] | undefined>("vscode.executeDocumentSymbolProvider", doc.uri).then(undefined, () => undefined)) ?? [];
  let best: vscode.DocumentSymbol | null = null;
  const visit = (list: vscode.DocumentSymbol[]) => {
    for (const s of list) {
      if (!s.range?.contains(sel.active)) continue;
      best = s;
      visit(s.children ?? []);
    }
  };
  visit(symbols);
  if (best) {
    const r = (best as vscode.DocumentSymbol).range;
    return { path: doc.uri.fsPath, startLine: r.start.line + 1, endLine: r.end.line + 1 };
  }
  let start = sel.active.line;
  let end = sel.active.line;
  while (start > 0 && !doc.lineAt(start - 1).isEmptyOrWhitespace && sel.active.line - start < 30) start--;
  while (end < doc.lineCount - 1 && !doc.lineAt(end + 1).isEmptyOrWhitespace && end - sel.active.line < 30) end++;
  return { path: doc.uri.fsPath, startLine: start + 1, endLine: end + 1 };
}

function findSimilarCommand(results: ResultsView): (arg?: unknown) => Promise<void> {
  return async (arg) => {
    let passage: { path: string; root?: string; startLine: number; endLine: number };
    const fromView = ResultsView.hitOf(arg);
    if (fromView) {
      passage = { path: fromView.hit.file, root: fromView.hit.root, startLine: fromView.hit.startLine, endLine: fromView.hit.endLine };
    } else {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.document.uri.scheme !== "file") {
        void vscode.window.showInformationMessage("Loupe: open a file and select a passage (or put the cursor in a function or paragraph) to find similar code and notes.");
        return;
      }
      passage = await passageAt(editor);
    }
    try {
      const c = config();
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: "Loupe: finding similar" }, () =>
        request<SearchResult>(Requests.similar.method, { ...passage, k: c.resultCount, ...(c.exclude.length ? { exclude: c.exclude } : {}) }));
      results.show({ title: `passages like ${r.query}`, query: null, hits: r.hits });
      await vscode.commands.executeCommand("loupe.results.focus");
      if (r.hits.length === 0) void vscode.window.showInformationMessage(`Loupe found nothing like ${r.query}.`);
    } catch (e) {
      void vscode.window.showErrorMessage(`Loupe: ${(e as Error).message}`);
    }
  };
}

/** The explanation of a hit as markdown: the concepts query and chunk share, and the words they both have. */
export function explanationMarkdown(x: ExplainResult): string {
  const h = x.hit;
  const lines = [
    `# Why ${h.path}:${h.startLine}-${h.endLine} matches ${JSON.stringify(x.query)}`,
    "",
    `Score ${h.score} (words ${x.lexicalScore}, meaning ${x.latentScore} before fusion)${h.symbol ? ` · ${h.symbol}` : ""}`,
    "",
    "## Shared concepts",
    "",
    ...(x.latents.length ? ["| concept | weight | in query | in chunk |", "|---|---|---|---|", ...x.latents.slice(0, 15).map((l) => `| ${l.label || `#${l.id}`} | ${l.weight} | ${l.queryWeight} | ${l.chunkWeight} |`)] : ["None: this hit matched by its words."]),
    "",
    "## Matched words",
    "",
    ...(x.lexical.length ? ["| word | times in chunk | contribution |", "|---|---|---|", ...x.lexical.map((t) => `| ${t.term} | ${t.tf} | ${t.contribution} |`)] : ["None: this hit matched by meaning only."]),
    "",
    "```" + h.language,
    h.snippet,
    "```",
  ];
  return lines.join("\n") + "\n";
}

function explainCommand(results: ResultsView): (arg?: unknown) => Promise<void> {
  return async (arg) => {
    let target = ResultsView.hitOf(arg);
    if (!target) {
      const set = results.current;
      if (!set?.query || set.hits.length === 0) {
        void vscode.window.showInformationMessage("Loupe: search first (\"Loupe: Search\"), then explain one of its results.");
        return;
      }
      const pick = await vscode.window.showQuickPick(set.hits.map(hitItem), { placeHolder: `Explain which result for ${JSON.stringify(set.query)}?` });
      if (!pick) return;
      target = { hit: pick.hit, query: set.query };
    }
    if (!target.query) {
      void vscode.window.showInformationMessage("Loupe explains search results; these came from \"Find Similar\".");
      return;
    }
    try {
      const x = await request<ExplainResult>(Requests.explain.method, { query: target.query, path: target.hit.file, root: target.hit.root, line: target.hit.startLine });
      const doc = await vscode.workspace.openTextDocument({ language: "markdown", content: explanationMarkdown(x) });
      await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
    } catch (e) {
      void vscode.window.showErrorMessage(`Loupe: ${(e as Error).message}`);
    }
  };
}

/** The status-bar item: indexing progress, then what is indexed; a click shows the status. */
class StatusItem implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem("loupe.status", vscode.StatusBarAlignment.Left, 10);
  private timer: NodeJS.Timeout | undefined;
  last: StatusResult | null = null;

  constructor() {
    this.item.name = "Loupe";
    this.item.command = "loupe.showStatus";
    this.set("$(loading~spin) Loupe", "Loupe is starting");
    this.item.show();
  }

  set(text: string, tooltip: string, error = false): void {
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.backgroundColor = error ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  /** Polls status until disposed; the poll interval follows whether something is indexing. */
  start(): void {
    const tick = async () => {
      let busy = false;
      try {
        if (isRunning(client)) {
          const s = await request<StatusResult>(Requests.status.method);
          this.last = s;
          busy = this.render(s);
        }
      } catch (e) {
        this.set("$(warning) Loupe", `Loupe: ${(e as Error).message}`, true);
      }
      this.timer = setTimeout(() => void tick(), busy ? STATUS_BUSY_MS : STATUS_IDLE_MS);
    };
    void tick();
  }

  /** Shows a status; true while a root is still indexing. */
  render(s: StatusResult): boolean {
    const roots = s.roots;
    const files = roots.reduce((a, r) => a + r.files, 0);
    const chunks = roots.reduce((a, r) => a + r.chunks, 0);
    const failed = roots.find((r) => r.state === "error");
    const scanning = roots.find((r) => r.state === "scanning" || r.state === "indexing");
    if (failed) {
      this.set("$(error) Loupe", `Loupe: ${failed.root}: ${failed.lastError ?? "error"}`, true);
      return false;
    }
    if (roots.length === 0 || scanning) {
      const done = roots.reduce((a, r) => a + (r.progress?.done ?? r.files), 0);
      const total = roots.reduce((a, r) => a + (r.progress?.total ?? r.files), 0);
      const ready = roots.reduce((a, r) => a + r.latent.ready, 0);
      const all = roots.reduce((a, r) => a + r.latent.total, 0);
      const text = total === 0 ? "scanning" : done < total ? `${Math.floor((100 * done) / total)}% of ${total.toLocaleString("en")} files` : `meaning ${Math.floor((100 * ready) / Math.max(all, 1))}%`;
      this.set(`$(sync~spin) Loupe ${text}`, "Loupe is indexing this workspace; search works already (partial results say so).");
      return true;
    }
    this.set(`$(search) Loupe ${files.toLocaleString("en")} files`, `Loupe: ${files.toLocaleString("en")} files, ${chunks.toLocaleString("en")} chunks indexed (pack ${s.pack?.name ?? "?"}). Click for status.`);
    return false;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.item.dispose();
  }
}

async function showStatus(status: StatusItem, output: vscode.LogOutputChannel): Promise<void> {
  let s: StatusResult;
  try {
    s = await request<StatusResult>(Requests.status.method);
  } catch (e) {
    const pick = await vscode.window.showErrorMessage(`Loupe: ${(e as Error).message}`, "Show Log");
    if (pick) output.show();
    return;
  }
  status.render(s);
  const rootLines = s.roots.map((r) => `${r.root}: ${r.state}, ${r.files} files, ${r.chunks} chunks, meaning vectors ${r.latent.ready}/${r.latent.total}${r.lastError ? ` (${r.lastError})` : ""}`);
  const pick = await vscode.window.showInformationMessage(
    `Loupe ${s.version}, daemon pid ${s.pid}, pack ${s.pack?.name ?? "?"} (${s.pack?.provider ?? "?"})`,
    { modal: true, detail: rootLines.join("\n") || "No folder of this window is indexed yet." },
    "Show Log", "Reindex",
  );
  if (pick === "Show Log") output.show();
  if (pick === "Reindex") await vscode.commands.executeCommand("loupe.reindex");
}

/** Is VS Code at least `major.minor`? */
function atLeast(version: string, major: number, minor: number): boolean {
  const [a, b] = version.split(".").map(Number);
  return a! > major || (a === major && b! >= minor);
}

/**
 * Registers Loupe's MCP server for agent mode, where this VS Code has the final API (1.101 and
 * later: `lm.registerMcpServerDefinitionProvider` with the `mcpServerDefinitionProviders`
 * contribution). 1.100 has an earlier, proposed shape of it that refuses this contribution; a
 * failure here is logged and never stops the extension.
 */
function registerMcp(context: vscode.ExtensionContext, exe: LoupeExecutable, log: vscode.LogOutputChannel): void {
  if (!atLeast(vscode.version, 1, 101)) {
    log.info(`VS Code ${vscode.version} has no MCP server definition API (1.101+); register \`loupe mcp\` in your MCP settings instead`);
    return;
  }
  const lm = vscode.lm as unknown as {
    registerMcpServerDefinitionProvider?: (id: string, provider: { provideMcpServerDefinitions: () => unknown[] }) => vscode.Disposable;
  };
  const Stdio = (vscode as unknown as { McpStdioServerDefinition?: new (label: string, command: string, args: string[]) => unknown }).McpStdioServerDefinition;
  if (!lm.registerMcpServerDefinitionProvider || !Stdio) return;
  try {
    context.subscriptions.push(lm.registerMcpServerDefinitionProvider("loupe.mcp", {
      provideMcpServerDefinitions: () => {
        const roots = folders().flatMap((f) => ["--root", f]);
        const { command, args } = loupeCommandLine(exe, ["mcp", ...roots]);
      return [new Stdio("Loupe", command, args)];
      },
    }));
    log.info("registered Loupe's MCP server for agent mode");
  } catch (e) {
    log.warn(`could not register Loupe's MCP server: ${(e as Error).message}`);
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("Loupe", { log: true });
  const results = new ResultsView();
  const status = new StatusItem();
  context.subscriptions.push(output, results.view, status);
  context.subscriptions.push(
    vscode.commands.registerCommand("loupe.search", searchCommand(results)),
    vscode.commands.registerCommand("loupe.findSimilar", findSimilarCommand(results)),
    vscode.commands.registerCommand("loupe.explainResult", explainCommand(results)),
    vscode.commands.registerCommand("loupe.openHit", (h: SearchHit) => openHit(h, { preview: false, preserveFocus: false })),
    vscode.commands.registerCommand("loupe.clearResults", () => results.show(null)),
    vscode.commands.registerCommand("loupe.showLog", () => output.show()),
    vscode.commands.registerCommand("loupe.openSettings", () => vscode.commands.executeCommand("workbench.action.openSettings", "@ext:loupe.loupe-vscode")),
    vscode.commands.registerCommand("loupe.showStatus", () => showStatus(status, output)),
    vscode.commands.registerCommand("loupe.reindex", async () => {
      if (!client) return;
      if (!isRunning(client)) await (client as LanguageClient).start();
      await request(Requests.reindex.method).catch((e: Error) => vscode.window.showErrorMessage(`Loupe: ${e.message}`));
    }),
  );

  const c = config();
  exe = findLoupe(c.path, folders());
  if (!exe) {
    status.set("$(error) Loupe: not found", "No `loupe` executable: set loupe.path, or install Loupe. Click for details.", true);
    status.item.command = "loupe.openSettings";
    void explainMissing(c.path);
    return;
  }
  output.appendLine(`using ${exe.path} (from ${exe.from})`);
  const crashes = new CrashPolicy((message) => {
    status.set("$(error) Loupe stopped", message, true);
    void vscode.window.showErrorMessage(message, "Show Log").then((p) => p && output.show());
  });
  const clientOptions: LanguageClientOptions = {
    documentSelector: [],
    outputChannel: output,
    traceOutputChannel: output,
    errorHandler: crashes,
    initializationOptions: { exclude: c.exclude },
  };
  client = new LanguageClient("loupe", "Loupe", serverOptions(exe), clientOptions);
  context.subscriptions.push({ dispose: () => void client?.stop() });
  registerMcp(context, exe, output);
  try {
    await client.start();
  } catch (e) {
    status.set("$(error) Loupe", `Loupe could not start: ${(e as Error).message}`, true);
    void vscode.window.showErrorMessage(`Loupe could not start \`${exe.path} lsp\`: ${(e as Error).message}`, "Show Log").then((p) => p && output.show());
    return;
  }
  status.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = null;
}
