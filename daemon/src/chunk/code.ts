// Syntax-aware code chunks: web-tree-sitter (the build shipped in @vscode/tree-sitter-wasm, with its
// prebuilt grammars). Top-level declarations become chunks carrying their name; a declaration over
// the limits is split along its children (methods recurse with "Outer.inner", statements are
// packed up to the limits), and lines between declarations (imports, statements) are packed too,
// so every non-blank line lands in exactly one chunk. Unknown languages and parse failures fall
// back to the line-window chunker. The only IO is loading the grammar WASM files, once each.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type * as TreeSitter from "@vscode/tree-sitter-wasm";
import { chunkLines } from "./lines.js";
import { DEFAULT_LIMITS, LineSizes, splitLines, splitRows, toChunk, type ChunkLimits, type SymbolChunk } from "./types.js";

type Node = TreeSitter.Node;

const require = createRequire(import.meta.url);

/** Extension (lower case, with dot) → grammar file stem in @vscode/tree-sitter-wasm. */
const GRAMMARS: Record<string, string> = {
  ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
  ".tsx": "tsx",
  ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
  ".py": "python", ".pyi": "python",
  ".go": "go",
  ".rs": "rust",
  ".java": "java",
  // The package ships no C grammar; C parses well enough as C++ for chunking.
  ".c": "cpp", ".h": "cpp", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
  ".cs": "c-sharp",
  ".rb": "ruby",
  ".php": "php",
  ".sh": "bash", ".bash": "bash",
};

export function codeGrammarFor(path: string): string | undefined {
  const dot = path.lastIndexOf(".");
  if (dot < 0 || dot < path.lastIndexOf("/")) return undefined;
  return GRAMMARS[path.slice(dot).toLowerCase()];
}

let runtime: Promise<typeof TreeSitter> | undefined;
const parsers = new Map<string, Promise<TreeSitter.Parser>>();

function loadRuntime(): Promise<typeof TreeSitter> {
  runtime ??= (async () => {
    // A UMD/CommonJS bundle: named exports are not visible to ESM import, so require it.
    const ts = require("@vscode/tree-sitter-wasm") as typeof TreeSitter;
    await ts.Parser.init();
    return ts;
  })();
  return runtime;
}

function parserFor(grammar: string): Promise<TreeSitter.Parser> {
  let p = parsers.get(grammar);
  if (!p) {
    p = (async () => {
      const ts = await loadRuntime();
      const wasm = await readFile(require.resolve(`@vscode/tree-sitter-wasm/wasm/tree-sitter-${grammar}.wasm`));
      const language = await ts.Language.load(new Uint8Array(wasm));
      return new ts.Parser().setLanguage(language);
    })();
    p.catch(() => parsers.delete(grammar));
    parsers.set(grammar, p);
  }
  return p;
}

// Node types that name something worth a chunk of its own (after unwrapping exports/decorators).
const DECLARATIONS = new Set([
  // TypeScript / JavaScript
  "function_declaration", "generator_function_declaration", "class_declaration", "abstract_class_declaration",
  "interface_declaration", "enum_declaration", "type_alias_declaration", "internal_module", "module",
  "method_definition", "abstract_method_signature", "class",
  // Python
  "function_definition", "class_definition",
  // Go
  "method_declaration", "type_declaration",
  // Rust
  "function_item", "struct_item", "enum_item", "union_item", "trait_item", "impl_item", "mod_item", "macro_definition",
  // Java / C#
  "constructor_declaration", "record_declaration", "annotation_type_declaration", "struct_declaration",
  "namespace_declaration", "property_declaration",
  // C / C++
  "class_specifier", "struct_specifier", "enum_specifier", "union_specifier", "namespace_definition",
  // Ruby
  "method", "singleton_method",
]);

// Leading siblings that belong to the declaration after them.
const ATTACHED = new Set(["comment", "line_comment", "block_comment", "attribute_item", "decorator"]);

const WRAPPER_FIELDS = ["declaration", "definition"];

/** export_statement → its declaration, decorated_definition → its definition, template → inner. */
function unwrap(node: Node): Node {
  let n = node;
  for (let i = 0; i < 4; i++) {
    let inner: Node | null = null;
    for (const f of WRAPPER_FIELDS) inner ??= n.childForFieldName(f);
    if (n.type === "template_declaration") inner = n.namedChildren.find((c) => c && DECLARATIONS.has(c.type)) ?? inner;
    if (!inner || inner.id === n.id) break;
    n = inner;
  }
  return n;
}

function innermostDeclarator(node: Node): string {
  let n: Node = node;
  for (let d = n.childForFieldName("declarator"); d; d = n.childForFieldName("declarator")) n = d;
  return n.text;
}

function goReceiverType(node: Node): string {
  const recv = node.childForFieldName("receiver");
  const m = recv ? /([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[[^\]]*\])?\s*\)\s*$/.exec(recv.text) : null;
  return m ? m[1]! : "";
}

/** The declaration's own name, or "" when the node is not a declaration. */
export function declarationName(node: Node): string {
  const n = unwrap(node);
  if (n.type === "lexical_declaration" || n.type === "variable_declaration") {
    // const handler = () => {…} / const Foo = class {…}
    const decls = n.namedChildren.filter((c): c is Node => c?.type === "variable_declarator");
    const d = decls.length === 1 ? decls[0]! : null;
    const value = d?.childForFieldName("value");
    if (d && value && /^(arrow_function|function_expression|function|generator_function|class)$/.test(value.type)) {
      return d.childForFieldName("name")?.text ?? "";
    }
    return "";
  }
  if (n.type === "public_field_definition" || n.type === "field_definition") {
    // static Inner = class {…} / handler = () => {…}
    const value = n.childForFieldName("value");
    const name = n.childForFieldName("name") ?? n.childForFieldName("property");
    return value && name && /^(arrow_function|function_expression|function|class)$/.test(value.type) ? name.text : "";
  }
  if (!DECLARATIONS.has(n.type)) return "";
  if (n.type === "impl_item") {
    const type = n.childForFieldName("type")?.text ?? "";
    const trait = n.childForFieldName("trait")?.text;
    return trait ? `${type}(${trait})` : type;
  }
  if (n.type === "type_declaration") {
    const spec = n.namedChildren.find((c) => c && /type_spec|type_alias/.test(c.type));
    return spec?.childForFieldName("name")?.text ?? "";
  }
  if (n.type === "method_declaration" && n.childForFieldName("receiver")) {
    const recv = goReceiverType(n);
    const name = n.childForFieldName("name")?.text ?? "";
    return recv ? `${recv}.${name}` : name;
  }
  const name = n.childForFieldName("name");
  if (name) return name.text.replace(/::/g, ".");
  if (n.type === "function_definition" && n.childForFieldName("declarator")) {
    // C/C++: the name sits under nested declarators (pointer, reference, function).
    return innermostDeclarator(n).replace(/\s+/g, "").replace(/::/g, ".");
  }
  return "";
}

/** The node whose named children are the natural split points. */
function bodyOf(node: Node): Node {
  const n = unwrap(node);
  if (n.type === "type_declaration") {
    const spec = n.namedChildren.find((c) => c?.type === "type_spec");
    const t = spec?.childForFieldName("type");
    if (t) return t.type === "struct_type" ? (t.namedChildren.find((c) => c?.type === "field_declaration_list") ?? t) : t;
  }
  if (n.type === "lexical_declaration" || n.type === "variable_declaration") {
    const value = n.namedChildren.find((c) => c?.type === "variable_declarator")?.childForFieldName("value");
    if (value) return value.childForFieldName("body") ?? value;
  }
  if (n.type === "public_field_definition" || n.type === "field_definition") {
    const value = n.childForFieldName("value");
    if (value) return value.childForFieldName("body") ?? value;
  }
  return n.childForFieldName("body") ?? n;
}

interface Unit {
  start: number; // 0-based rows, inclusive
  end: number;
  symbol: string;
  /** Whole declarations never merge with neighbours; statements of one symbol may. */
  whole: boolean;
}

function lastRow(node: Node): number {
  const e = node.endPosition;
  return e.column === 0 && e.row > node.startPosition.row ? e.row - 1 : e.row;
}

class Splitter {
  constructor(
    private readonly sizes: LineSizes,
    private readonly limits: ChunkLimits,
  ) {}

  private rows(start: number, end: number, symbol: string): Unit[] {
    return splitRows(this.sizes, start, end, this.limits).map(([s, e]) => ({ start: s, end: e, symbol, whole: false }));
  }

  /** Children to split `node` along, descending through single wrapping children. */
  private children(node: Node): Node[] {
    let n = bodyOf(node);
    for (let depth = 0; depth < 8; depth++) {
      const kids = n.namedChildren.filter((c): c is Node => c !== null);
      const only = kids.length === 1 ? kids[0]! : null;
      if (only && lastRow(only) > only.startPosition.row && only.id !== n.id && !declarationName(only)) {
        n = bodyOf(only);
        continue;
      }
      return kids;
    }
    return [];
  }

  /** Units covering rows [start, end] of `node` (a declaration named `symbol`, or a statement in it). */
  node(node: Node, start: number, end: number, symbol: string, isDecl: boolean, force = false): Unit[] {
    while (start < end && this.sizes.blank(start)) start++; // blank lines need no chunk; don't count them
    if (!force && this.sizes.fits(start, end, this.limits)) return [{ start, end, symbol, whole: isDecl }];
    const kids = this.children(node);
    if (kids.length === 0) return this.rows(start, end, symbol);
    return this.children_(kids, start, end, symbol);
  }

  private children_(kids: Node[], start: number, end: number, symbol: string): Unit[] {
    const out: Unit[] = [];
    let cursor = start;
    let pending: number | null = null; // first row of attached comments/attributes awaiting a declaration
    const flushPending = (upTo: number) => {
      if (pending !== null && upTo >= pending) out.push(...this.rows(pending, upTo, symbol));
      pending = null;
    };
    for (let i = 0; i < kids.length; i++) {
      const kid = kids[i]!;
      const kidEnd = Math.min(lastRow(kid), end);
      if (kidEnd < cursor) continue; // shares a row already covered
      const kidStart = Math.max(kid.startPosition.row, cursor);
      if (out.length === 0 && pending === null && kidStart > cursor) {
        // The header (signature, opening line) goes with the parent's symbol.
        out.push(...this.rows(cursor, kidStart - 1, symbol));
        cursor = kidStart;
      }
      if (ATTACHED.has(kid.type)) {
        pending ??= cursor;
        cursor = kidEnd + 1;
        continue;
      }
      const name = declarationName(kid);
      if (name) {
        const from = pending ?? cursor;
        pending = null;
        const path = symbol ? `${symbol}.${name}` : name;
        const units = this.node(kid, from, kidEnd, path, true);
        out.push(...units);
      } else {
        flushPending(cursor - 1);
        const units = this.node(kid, cursor, kidEnd, symbol, false);
        out.push(...units);
      }
      cursor = kidEnd + 1;
    }
    flushPending(cursor - 1);
    if (cursor <= end) out.push(...this.rows(cursor, end, symbol)); // closing lines
    return out;
  }
}

const WORDY = /[\p{L}\p{N}_]/u;

/** Packs units into chunks: statements of one symbol merge within the limits; punctuation-only tails join the chunk before. */
function pack(units: Unit[], lines: string[], sizes: LineSizes, limits: ChunkLimits): SymbolChunk[] {
  const merged: Unit[] = [];
  for (const u of units) {
    const prev = merged[merged.length - 1];
    const text = lines.slice(u.start, u.end + 1).join("\n");
    if (prev && !WORDY.test(text)) {
      prev.end = u.end; // "}" / ");" / blank lines
      continue;
    }
    if (prev && !prev.whole && !u.whole && prev.symbol === u.symbol && sizes.fits(prev.start, u.end, limits)) {
      prev.end = u.end;
      continue;
    }
    merged.push({ ...u });
  }
  const out: SymbolChunk[] = [];
  for (const u of merged) {
    const c = toChunk(lines, u.start, u.end, u.symbol);
    if (c) out.push(c);
  }
  return out;
}

export interface CodeChunkOptions {
  limits?: ChunkLimits;
}

/** Chunks source code of a language known by extension; returns null when the language is unknown or parsing fails. */
export async function chunkCode(path: string, text: string, opts: CodeChunkOptions = {}): Promise<SymbolChunk[] | null> {
  const grammar = codeGrammarFor(path);
  if (!grammar) return null;
  const limits = opts.limits ?? DEFAULT_LIMITS;
  let tree: TreeSitter.Tree | null;
  try {
    tree = (await parserFor(grammar)).parse(text);
  } catch {
    return null;
  }
  if (!tree) return null;
  try {
    const lines = splitLines(text);
    if (lines.length === 0) return [];
    const sizes = new LineSizes(lines);
    const splitter = new Splitter(sizes, limits);
    const units = splitter.node(tree.rootNode, 0, lines.length - 1, "", false, true);
    return pack(units, lines, sizes, limits);
  } finally {
    tree.delete();
  }
}

/** Syntax-aware when the language is known and parses, else the line-window fallback (symbol ""). */
export async function chunkCodeOrLines(path: string, text: string, opts: CodeChunkOptions = {}): Promise<SymbolChunk[]> {
  const chunks = await chunkCode(path, text, opts);
  return chunks ?? chunkLines(text).map((c) => ({ ...c, symbol: "" }));
}
