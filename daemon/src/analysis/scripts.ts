// Which writing systems a text is in, and how much of it an encoder can read. A model pack's
// vocabulary covers some scripts (USE-Lite's: Latin only); letters in any other script reach its
// encoder as unknown pieces, whose latents say nothing about the text. Search uses the share of
// a query's letters the encoder can read to decide how far to trust the latent channel
// (search/fusion.ts `latentTrust`).

/** The scripts told apart; a letter in none of them counts as "Other". */
const SCRIPTS = [
  "Latin", "Cyrillic", "Greek", "Armenian", "Georgian", "Hebrew", "Arabic", "Syriac", "Thaana", "Devanagari", "Bengali", "Gurmukhi",
  "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada", "Malayalam", "Sinhala", "Thai", "Lao", "Tibetan", "Myanmar", "Khmer", "Ethiopic",
  "Hangul", "Hiragana", "Katakana", "Han",
] as const;
const PATTERNS = SCRIPTS.map((s) => [s, new RegExp(`\\p{Script=${s}}`, "u")] as const);
const LETTER = /\p{L}/u;

/** The script of one letter ("Other" for a letter of a script not listed; null for a non-letter). */
export function scriptOf(ch: string): string | null {
  if (!LETTER.test(ch)) return null;
  for (const [name, re] of PATTERNS) if (re.test(ch)) return name;
  return "Other";
}

/** Letters per script. */
export function scriptCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const ch of text) {
    const s = scriptOf(ch);
    if (s) counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  return counts;
}

/**
 * The scripts a vocabulary covers: those holding at least `minShare` of its pieces' letters
 * (USE-Lite's 8k pieces: 40,014 Latin letters, then Cyrillic 8, Arabic 6: Latin only).
 */
export function vocabularyScripts(pieces: Iterable<string>, minShare = 0.01): Set<string> {
  const counts = new Map<string, number>();
  let letters = 0;
  for (const p of pieces) {
    for (const [s, n] of scriptCounts(p)) {
      counts.set(s, (counts.get(s) ?? 0) + n);
      letters += n;
    }
  }
  return new Set([...counts].filter(([, n]) => n >= minShare * letters).map(([s]) => s));
}

/** The share of `text`'s letters written in `scripts` (1 for a text without letters: digits and symbols read the same everywhere). */
export function readableShare(text: string, scripts: ReadonlySet<string>): number {
  let letters = 0;
  let readable = 0;
  for (const [s, n] of scriptCounts(text)) {
    letters += n;
    if (scripts.has(s)) readable += n;
  }
  return letters === 0 ? 1 : readable / letters;
}
