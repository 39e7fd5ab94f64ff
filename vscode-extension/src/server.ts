// Finding and starting `loupe lsp`: the language client runs it, restarts it when it crashes
// (but not forever), and every request of the extension goes through it.
import { existsSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import * as vscode from "vscode";
import {
  CloseAction, ErrorAction, LanguageClient, State, TransportKind, type CloseHandlerResult, type ErrorHandler, type ErrorHandlerResult, type ServerOptions,
} from "vscode-languageclient/node";

/** Where `loupe` was found, and how to run it. */
export interface LoupeExecutable {
  path: string;
  /** `loupe` itself, or a `bin/loupe.js` that Node runs. */
  kind: "command" | "node";
  from: "setting" | "workspace" | "PATH";
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The `loupe.path` setting, else the workspace's `node_modules/.bin/loupe`, else `loupe` on PATH; null when none exists. */
export function findLoupe(setting: string, folders: readonly string[], env: NodeJS.ProcessEnv = process.env): LoupeExecutable | null {
  const kindOf = (p: string): LoupeExecutable["kind"] => (p.endsWith(".js") || p.endsWith(".mjs") ? "node" : "command");
  if (setting.trim() !== "") {
    const p = setting.trim();
    return existsSync(p) ? { path: p, kind: kindOf(p), from: "setting" } : null;
  }
  for (const f of folders) {
    const p = join(f, "node_modules", ".bin", "loupe");
    if (isFile(p)) return { path: p, kind: "command", from: "workspace" };
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && isFile(join(dir, "loupe"))) return { path: join(dir, "loupe"), kind: "command", from: "PATH" };
  }
  return null;
}

/**
 * The command line that runs `loupe` with `args`. A `bin/loupe.js` runs under `node` from PATH,
 * never under the editor's own runtime: desktop VS Code's is Electron, whose native-module ABI
 * is not Node's, and Loupe's daemon loads onnxruntime and roaring.
 */
export function loupeCommandLine(exe: LoupeExecutable, args: string[]): { command: string; args: string[] } {
  return exe.kind === "node" ? { command: "node", args: [exe.path, ...args] } : { command: exe.path, args };
}

/** How the language client runs `loupe lsp`. */
export function serverOptions(exe: LoupeExecutable): ServerOptions {
  return { ...loupeCommandLine(exe, ["lsp"]), transport: TransportKind.stdio };
}

/** Crashes this close together count as repeated. */
const CRASH_WINDOW_MS = 3 * 60_000;
/** Restarts allowed within the window; one more crash and the server stays down. */
const MAX_RESTARTS = 4;

/**
 * Restarts `loupe lsp` when it dies, unless it died MAX_RESTARTS + 1 times in CRASH_WINDOW_MS:
 * then it stays down and the user is told why, with the log a click away.
 */
export class CrashPolicy implements ErrorHandler {
  private crashes: number[] = [];

  constructor(private readonly onGiveUp: (message: string) => void) {}

  error(): ErrorHandlerResult {
    return { action: ErrorAction.Continue };
  }

  closed(): CloseHandlerResult {
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    if (this.crashes.length > MAX_RESTARTS) {
      const message = `Loupe's language server stopped ${this.crashes.length} times in ${CRASH_WINDOW_MS / 60_000} minutes, so it is not restarted. The Loupe log says why; run "Loupe: Reindex Workspace" or reload the window to try again.`;
      this.onGiveUp(message);
      return { action: CloseAction.DoNotRestart, message, handled: true };
    }
    return { action: CloseAction.Restart, handled: true };
  }

  reset(): void {
    this.crashes = [];
  }
}

export function isRunning(client: LanguageClient | null): client is LanguageClient {
  return client !== null && client.state === State.Running;
}

/** "Loupe is not installed" with the ways out. */
export async function explainMissing(setting: string): Promise<void> {
  const why = setting.trim() !== ""
    ? `The loupe.path setting names ${setting}, which does not exist.`
    : "No `loupe` executable was found (loupe.path is empty, the workspace has no node_modules/.bin/loupe, and none is on PATH).";
  const choice = await vscode.window.showErrorMessage(
    `${why} Install Loupe (npm ci in its repository, then \`npm link\` in daemon/, or point loupe.path at its daemon/bin/loupe.js), then reload the window.`,
    "Open Settings",
  );
  if (choice === "Open Settings") await vscode.commands.executeCommand("workbench.action.openSettings", "loupe.path");
}
