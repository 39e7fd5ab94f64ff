// Paths in the CLI's text output, one per line. A file name may hold a newline or another
// control character (a terminal escape, even), which would break the line structure scripts
// rely on or repaint the terminal; such paths are quoted the way git's core.quotePath does.

/** The C escapes git uses; other control bytes become three-digit octal. */
const ESCAPES: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\" };

/** C0 controls, DEL, the C1 controls (U+0080–U+009F, which some terminals obey), `"` and `\`. */
const NEEDS_QUOTES = /[\x00-\x1f\x7f-\x9f"\\]/;

/**
 * `path` as it is when it holds no control character, double quote or backslash (non-ASCII
 * letters included); otherwise in double quotes with C escapes (`"a\nb.md"`), control bytes
 * other than git's named escapes written as octal of their UTF-8 bytes (`\033`, `\302\233`).
 */
export function quotePath(path: string): string {
  if (!NEEDS_QUOTES.test(path)) return path;
  let out = '"';
  for (const ch of path) {
    const escape = ESCAPES[ch];
    if (escape) out += escape;
    else if (/[\x00-\x1f\x7f-\x9f]/.test(ch)) for (const byte of Buffer.from(ch, "utf8")) out += `\\${byte.toString(8).padStart(3, "0")}`;
    else out += ch;
  }
  return out + '"';
}
