// The "Loupe Results" view: the hits of the last search or similar, grouped by file; it stays
// after the QuickPick closes. Each hit opens its answering lines; its context menu explains it.
import * as vscode from "vscode";
import { hitTitle, type SearchHit } from "@loupe/protocol";

export interface ResultSet {
  /** The query (or, for similar, the passage as path:lines). */
  title: string;
  query: string | null;
  hits: SearchHit[];
}

type Node = { kind: "file"; path: string; root: string; hits: SearchHit[] } | { kind: "hit"; hit: SearchHit; query: string | null };

/** The lines a hit answers with: its snippet (1-based, inclusive) as an editor range. */
export function hitRange(h: SearchHit): vscode.Range {
  return new vscode.Range(h.snippetStartLine - 1, 0, h.snippetEndLine - 1, Number.MAX_SAFE_INTEGER);
}

/** A hit's one-line name in the editor's lists. */
export function hitLabel(h: SearchHit): string {
  return hitTitle(h, 100);
}

export class ResultsView implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private set: ResultSet | null = null;
  readonly view: vscode.TreeView<Node>;

  constructor() {
    this.view = vscode.window.createTreeView("loupe.results", { treeDataProvider: this, showCollapseAll: true });
  }

  get current(): ResultSet | null {
    return this.set;
  }

  show(set: ResultSet | null): void {
    this.set = set;
    this.view.message = set ? `${set.hits.length} hits for ${set.title}` : undefined;
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    if (!this.set) return [];
    if (!node) {
      const files = new Map<string, Node & { kind: "file" }>();
      for (const h of this.set.hits) {
        const key = h.file;
        if (!files.has(key)) files.set(key, { kind: "file", path: h.path, root: h.root, hits: [] });
        files.get(key)!.hits.push(h);
      }
      return [...files.values()];
    }
    return node.kind === "file" ? node.hits.map((hit) => ({ kind: "hit", hit, query: this.set?.query ?? null })) : [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === "file") {
      const item = new vscode.TreeItem(node.path, vscode.TreeItemCollapsibleState.Expanded);
      item.resourceUri = vscode.Uri.file(node.hits[0]!.file);
      item.description = `${node.hits.length} ${node.hits.length === 1 ? "hit" : "hits"}`;
      item.iconPath = vscode.ThemeIcon.File;
      return item;
    }
    const h = node.hit;
    const item = new vscode.TreeItem(hitLabel(h), vscode.TreeItemCollapsibleState.None);
    item.description = `:${h.snippetStartLine}  ${h.score.toFixed(2)}`;
    item.tooltip = new vscode.MarkdownString().appendCodeblock(h.snippet, h.language).appendMarkdown(
      `\n\n${h.path}:${h.startLine}-${h.endLine}${h.concepts.length ? ` · concepts: ${h.concepts.map((c) => c.label).filter(Boolean).slice(0, 3).join(", ")}` : ""}`,
    );
    item.contextValue = "loupe.hit";
    item.iconPath = new vscode.ThemeIcon(h.kind === "code" ? "symbol-method" : "note");
    item.command = { command: "loupe.openHit", title: "Open", arguments: [h] };
    return item;
  }

  /** The hit a view item stands for (commands from its context menu get the node). */
  static hitOf(arg: unknown): { hit: SearchHit; query: string | null } | null {
    const n = arg as Node | undefined;
    return n && n.kind === "hit" ? { hit: n.hit, query: n.query } : null;
  }
}
