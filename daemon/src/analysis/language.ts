// Which natural language a text is in, and the Snowball stemmer for it. Language ID is eld
// ("efficient language detector", n-grams, 60 languages; its small database): on the xquad-r
// questions (1,190 per language, about ten words each) it names en ar th right, and sure of it,
// for 100 % of them, es de el tr vi ru for ≥ 99.1 %, zh 96.3 %, hi 90.8 % (it calls the rest
// Marathi), in ~40 µs a question; franc-min named 74–99 % and tinyld 97–100 % right on the same
// questions (measured with an experiment script, not kept). Loading its tables takes ~0.3 s and ~50 MB, so they are
// loaded on first use, never by the CLI.
import type { stemmer as Stemmer } from "@orama/stemmers/english";

type Detector = (text: string) => { language: string; isReliable(): boolean; getScores(): Record<string, number> };

/**
 * A preferred language scoring within this much of the detector's first choice is taken instead:
 * close languages in one script (ru/uk/sr/bg, hi/mr) are where short texts go wrong. With it,
 * xquad-r's Hindi questions taken as Hindi go from 90.8 % to 100 %, Russian from 99.4 % to 100 %.
 */
const PREFERRED_MARGIN = 0.02;

/** Snowball stemmers (@orama/stemmers) by ISO 639-1 code, for the languages Loupe bridges. */
const STEMMERS: Record<string, () => Promise<{ stemmer: typeof Stemmer }>> = {
  ar: () => import("@orama/stemmers/arabic"),
  de: () => import("@orama/stemmers/german"),
  el: () => import("@orama/stemmers/greek"),
  es: () => import("@orama/stemmers/spanish"),
  hi: () => import("@orama/stemmers/indian"),
  ru: () => import("@orama/stemmers/russian"),
  tr: () => import("@orama/stemmers/turkish"),
};

export interface LanguageTools {
  /**
   * ISO 639-1 code of `text`'s language, or undefined where the detector is not confident. One of
   * `preferred` wins where it scores within PREFERRED_MARGIN of the first choice.
   */
  detect(text: string, preferred?: ReadonlySet<string>): string | undefined;
  /** The Snowball stem of a lower-case word in `language`, or undefined where none is loaded. */
  stem(language: string, word: string): string | undefined;
}

let loading: Promise<LanguageTools> | undefined;

/** The detector and every stemmer, loaded once per process. */
export function languageTools(): Promise<LanguageTools> {
  loading ??= (async () => {
    const { eld } = await import("eld/small");
    const detector: Detector = (text) => eld.detect(text);
    const stemmers = new Map<string, (w: string) => string>();
    for (const [code, load] of Object.entries(STEMMERS)) stemmers.set(code, (await load()).stemmer);
    return {
      detect(text, preferred) {
        const r = detector(text);
        if (!r.language || !r.isReliable()) return undefined;
        if (!preferred || preferred.has(r.language)) return r.language;
        const scores = r.getScores();
        const top = scores[r.language] ?? 0;
        let best: string | undefined;
        for (const l of preferred) if ((scores[l] ?? -1) >= top - PREFERRED_MARGIN && (best === undefined || scores[l]! > scores[best]!)) best = l;
        return best ?? r.language;
      },
      stem(language, word) {
        return stemmers.get(language)?.(word);
      },
    };
  })();
  return loading;
}
