// Syntax-aware code chunks: web-tree-sitter (the build shipped in @vscode/tree-sitter-wasm, with its
// prebuilt grammars). Top-level declarations become chunks carrying their name; a declaration over
// the limits is split along its children (methods recurse with "Outer.inner", statements are
// packed up to the limits), and lines between declarations (imports, statements) are packed too,
// so every non-blank line lands in exactly one chunk. Small neighbours — a run of one-line type
// aliases, imports, consts, short functions, or short methods of a split class — merge into one
// chunk within the limits (see pack). A line over maxChars (minified code) is cut into pieces.
// Unknown languages and parse failures fall back to the line-window chunker. The only IO is
// loading the grammar WASM files, once each.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type * as TreeSitter from "@vscode/tree-sitter-wasm";
import { fileType } from "../file-types.js";
import { chunkRows, DEFAULT_LIMITS, LineSizes, splitLines, splitRows, toChunk, type ChunkLimits, type SymbolChunk } from "./types.js";

type Node = TreeSitter.Node;

const require = createRequire(import.meta.url);

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

const FUNCTION_VALUE = /^(arrow_function|function_expression|function|generator_function|class)$/;

/**
 * `a.b = function () {…}` and its kin, the way CommonJS code defines most of its API: the
 * assignment of a function or class to a member, as a statement. Returns the assignment, or null.
 */
function memberAssignment(n: Node): Node | null {
  if (n.type !== "expression_statement") return null;
  const a = n.namedChildren[0];
  if (!a || a.type !== "assignment_expression" || a.childForFieldName("left")?.type !== "member_expression") return null;
  const right = a.childForFieldName("right");
  return right && FUNCTION_VALUE.test(right.type) ? a : null;
}

/**
 * The name a member assignment defines: `res.format` stays as written (the object is part of how
 * it is called), `X.prototype.y` is `X.y` (a method of X), and `module.exports.z` / `exports.z`
 * are `z`; `module.exports = function name()` takes the function's own name, if any.
 */
export function assignedName(left: string, right: Node | null): string {
  const path = left.replace(/\s+/g, "");
  if (path === "module.exports" || path === "exports") return right?.childForFieldName("name")?.text ?? "";
  return path.replace(/^(module\.)?exports\./, "").replace(/\.prototype\./g, ".");
}

/** The declaration's own name, or "" when the node is not a declaration. */
export function declarationName(node: Node): string {
  const n = unwrap(node);
  const assignment = memberAssignment(n);
  if (assignment) return assignedName(assignment.childForFieldName("left")!.text, assignment.childForFieldName("right"));
  if (n.type === "lexical_declaration" || n.type === "variable_declaration") {
    // const handler = () => {…} / const Foo = class {…}
    const decls = n.namedChildren.filter((c): c is Node => c?.type === "variable_declarator");
    const d = decls.length === 1 ? decls[0]! : null;
    const value = d?.childForFieldName("value");
    if (d && value && FUNCTION_VALUE.test(value.type)) {
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
  const right = memberAssignment(n)?.childForFieldName("right");
  if (right) return right.childForFieldName("body") ?? right;
  return n.childForFieldName("body") ?? n;
}

interface Unit {
  start: number; // 0-based rows, inclusive
  end: number;
  symbol: string;
  /** A whole declaration: merges with neighbours only when both are small (see pack). Statements of one symbol merge up to the limits. */
  whole: boolean;
  /** Symbol path of the declaration the unit sits in ("" at top level): small units merge only with siblings. */
  parent: string;
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

  /** Row windows of `symbol`'s own text (its header, statements, closing lines). */
  private rows(start: number, end: number, symbol: string): Unit[] {
    return splitRows(this.sizes, start, end, this.limits).map(([s, e]) => ({ start: s, end: e, symbol, whole: false, parent: symbol }));
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

  /**
   * Units covering rows [start, end] of `node`: a declaration named `symbol` inside `parent`, or
   * (isDecl false) a statement of `symbol`.
   */
  node(node: Node, start: number, end: number, symbol: string, isDecl: boolean, parent: string, force = false): Unit[] {
    while (start < end && this.sizes.blank(start)) start++; // blank lines need no chunk; don't count them
    if (!force && this.sizes.fits(start, end, this.limits)) return [{ start, end, symbol, whole: isDecl, parent: isDecl ? parent : symbol }];
    // One line over the limits (minified code): its children share the row, so descending cannot
    // split it; it stays one unit of the outer symbol and pack cuts it into pieces.
    if (start === end) return this.rows(start, end, symbol);
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
        const units = this.node(kid, from, kidEnd, path, true, symbol);
        out.push(...units);
      } else {
        flushPending(cursor - 1);
        const units = this.node(kid, cursor, kidEnd, symbol, false, symbol);
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

/**
 * A unit is small when it is within SMALL_UNIT_FRACTION of both limits: 1/6 → at most 10 lines
 * and 250 characters by default, about half an encoder window. That is too little text to be a
 * good retrieval unit alone (a one-line type alias, an import block, a three-line helper), while a
 * declaration of a screenful keeps its own chunk and a precise symbol. Range 0 (never merge) to
 * 1/2; larger values make fewer, mixed chunks.
 */
export const SMALL_UNIT_FRACTION = 1 / 6;

/** Longest symbol a merged chunk gets before the list of names is cut with "…"; default 80. */
export const MERGED_SYMBOL_MAX_CHARS = 80;

/**
 * The symbol of a chunk merged from several units: their distinct non-empty symbols in order,
 * joined with ", " ("Id, Name, parse"); past MERGED_SYMBOL_MAX_CHARS the list ends with ", …"
 * after the names that fit (always at least the first). A list, not just the first name, because
 * the symbol is shown with a result and every declaration in the chunk is equally its subject;
 * "" when none of the units had a symbol (imports and statements only).
 */
export function mergedSymbol(symbols: readonly string[], maxChars = MERGED_SYMBOL_MAX_CHARS): string {
  const names = [...new Set(symbols.filter((n) => n !== ""))];
  const all = names.join(", ");
  if (all.length <= maxChars) return all;
  let out = names[0]!;
  for (let i = 1; i < names.length && `${out}, ${names[i]}, …`.length <= maxChars; i++) out = `${out}, ${names[i]}`;
  return `${out}, …`;
}

interface Group extends Unit {
  symbols: string[];
  /** Every unit in the group is small, so a further small sibling may join. */
  small: boolean;
}

/**
 * Packs units into chunks, in order, each step joining unit u to the group before it when:
 *  - u is punctuation only ("}", "});") and the group stays within maxChars (it may pass maxLines);
 *  - both are statements of one symbol (pieces of a split body) and the result fits the limits;
 *  - both are small, siblings (same parent), and the result fits the limits — a run of one-line
 *    aliases or short functions becomes one chunk, a big declaration never absorbs its neighbours.
 * A group whose text is still over maxChars (one over-long line) is cut by chunkRows.
 */
function pack(units: Unit[], lines: string[], sizes: LineSizes, limits: ChunkLimits): SymbolChunk[] {
  const smallLines = Math.max(1, Math.floor(limits.maxLines * SMALL_UNIT_FRACTION));
  const smallChars = limits.maxChars * SMALL_UNIT_FRACTION;
  const isSmall = (u: Unit) => u.end - u.start + 1 <= smallLines && sizes.chars(u.start, u.end) <= smallChars;
  const groups: Group[] = [];
  for (const u of units) {
    const prev = groups[groups.length - 1];
    const small = isSmall(u);
    if (prev && !WORDY.test(lines.slice(u.start, u.end + 1).join("\n")) && sizes.chars(prev.start, u.end) <= limits.maxChars) {
      prev.end = u.end; // "}" / ");" / blank lines
      continue;
    }
    const fits = prev !== undefined && sizes.fits(prev.start, u.end, limits);
    if (prev && fits && !prev.whole && !u.whole && prev.symbol === u.symbol) {
      prev.end = u.end;
      prev.small &&= small;
      continue;
    }
    if (prev && fits && prev.small && small && prev.parent === u.parent) {
      prev.end = u.end;
      prev.symbols.push(u.symbol);
      prev.whole ||= u.whole; // holding a declaration, it no longer takes big statement runs (rule 2)
      continue;
    }
    groups.push({ ...u, symbols: [u.symbol], small });
  }
  const out: SymbolChunk[] = [];
  for (const g of groups) {
    const symbol = g.symbols.length > 1 ? mergedSymbol(g.symbols) : g.symbol;
    if (sizes.chars(g.start, g.end) <= limits.maxChars) {
      const c = toChunk(lines, g.start, g.end, symbol);
      if (c) out.push(c);
    } else {
      out.push(...chunkRows(lines, sizes, g.start, g.end, symbol, limits));
    }
  }
  return out;
}

export interface CodeChunkOptions {
  limits?: ChunkLimits;
}

/** Chunks source code of a language known by extension; returns null when the language is unknown or parsing fails. */
export async function chunkCode(path: string, text: string, opts: CodeChunkOptions = {}): Promise<SymbolChunk[] | null> {
  const grammar = fileType(path).grammar;
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
    const units = splitter.node(tree.rootNode, 0, lines.length - 1, "", false, "", true);
    return pack(units, lines, sizes, limits);
  } finally {
    tree.delete();
  }
}
