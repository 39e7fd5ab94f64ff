// What the encoder reads. USE-Lite's SentencePiece vocabulary has no piece for a newline or a
// tab (each becomes the unknown id, and runs of unknowns collapse) and shreds identifiers into
// fragments (`fetchUser` → `fe tch U s er`), so code reaches the encoder as noise. A pack can
// ask for its text to be normalised first: identifiers split into words and layout turned into
// single spaces. Only the encoder sees this text; the lexical channel indexes the original.

export const TEXT_NORMALIZATIONS = ["none", "split-identifiers"] as const;
export type TextNormalization = (typeof TEXT_NORMALIZATIONS)[number];

/**
 * `split-identifiers`: camelCase, PascalCase and acronym boundaries become spaces
 * (`parseHTTPResponse` → `parse HTTP Response`), underscores become spaces (`read_file` →
 * `read file`), and every run of whitespace (newlines, tabs, indentation) becomes one space.
 * Prose passes through almost unchanged. `none` returns the text as it is.
 */
export function normalizeForEncoder(text: string, kind: TextNormalization): string {
  if (kind === "none") return text;
  return text
    .replace(/(\p{Ll}|\p{Nd})(\p{Lu})/gu, "$1 $2")
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, "$1 $2")
    .replace(/_+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}
