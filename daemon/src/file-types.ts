// The one table of file types, by extension: whether a file is source code or notes (the
// protocol's `kind`, the kinds filter, fusion's lexical weight, the re-ranker's roles), which
// chunker splits it and, for code, which tree-sitter grammar parses it. A chunk's `language` is
// its file's lower-case extension. A leaf module: everything that asks what a file is asks here.
import type { FileKind } from "@loupe/protocol";

export type { FileKind } from "@loupe/protocol";

export type ChunkerKind = "code" | "markdown" | "text" | "lines";

export interface FileType {
  kind: FileKind;
  chunker: ChunkerKind;
  /** Grammar file stem in @vscode/tree-sitter-wasm (chunker "code" only). */
  grammar?: string;
  /** Written documentation (markdown, reStructuredText, plain text, …): in a code repository it ranks below the code. */
  documentation?: boolean;
}

const code = (grammar?: string): FileType => (grammar ? { kind: "code", chunker: "code", grammar } : { kind: "code", chunker: "lines" });
const markdown: FileType = { kind: "notes", chunker: "markdown", documentation: true };
const text: FileType = { kind: "notes", chunker: "text", documentation: true };
const OTHER: FileType = { kind: "notes", chunker: "lines" };

const TABLE = new Map<string, FileType>();
const add = (extensions: string, type: FileType) => {
  for (const e of extensions.split(" ")) TABLE.set(e, type);
};
add("ts mts cts", code("typescript"));
add("tsx", code("tsx"));
add("js mjs cjs jsx", code("javascript"));
add("py pyi", code("python"));
add("go", code("go"));
add("rs", code("rust"));
add("java", code("java"));
// The grammar package ships no C grammar; C parses well enough as C++ for chunking.
add("c h cc cpp cxx hpp hh hxx", code("cpp"));
add("cs", code("c-sharp"));
add("rb", code("ruby"));
add("php", code("php"));
add("sh bash", code("bash"));
// Code without a grammar here: line windows.
add("kt kts scala swift m mm lua pl pm zsh fish ps1 r jl hs ml mli ex exs erl clj cljs dart zig nim sql vue svelte", code());
add("md markdown mdx mdown", markdown);
add("txt text rst adoc asciidoc org textile pod", text);

/** A path's lower-case extension without the dot ("ts", "md"), "" when none (a dotfile has none). */
export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot <= 0 ? "" : base.slice(dot + 1).toLowerCase();
}

export function fileType(path: string): FileType {
  return TABLE.get(extensionOf(path)) ?? OTHER;
}

export function chunkerFor(path: string): ChunkerKind {
  return fileType(path).chunker;
}

/** Source code or notes (everything that is not code: prose, config, data). */
export function fileKind(path: string): FileKind {
  return fileType(path).kind;
}

/** A chunk's `language`: the file's lower-case extension. */
export function languageOf(path: string): string {
  return extensionOf(path);
}

export function isDocumentation(path: string): boolean {
  return fileType(path).documentation === true;
}
