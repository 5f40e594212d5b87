/**
 * How many terminal columns text takes: graphemes (what a reader sees as one
 * character, found with `Intl.Segmenter`) and their widths.
 *
 * East Asian Wide and Fullwidth characters (CJK, Hangul, kana, fullwidth
 * forms) and emoji take two columns, including emoji sequences joined with
 * ZWJ, emoji made emoji by the variation selector VS16, keycaps and flags.
 * Combining marks, format characters and control characters take none. Other
 * graphemes are measured code point by code point, as terminals do, so a
 * Devanagari conjunct counts its visible letters.
 *
 * It does not know a particular terminal's quirks (some draw a ZWJ sequence
 * as its parts side by side) and treats East Asian Ambiguous characters as
 * narrow, which is what terminals outside CJK locales do.
 *
 * Which code points are Wide or Fullwidth comes from Unicode's
 * EastAsianWidth.txt through `get-east-asian-width`, so that it follows new
 * Unicode versions; this module only adds what that table does not say.
 *
 * @module
 */

import { eastAsianWidth } from "get-east-asian-width";

// Also for code points that EastAsianWidth.txt leaves narrow but terminals
// draw as emoji, such as a lone regional indicator.
const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u;
const PICTOGRAPHIC = /\p{Extended_Pictographic}/u;
// Marks, format characters (ZWJ, ZWSP, soft hyphen...), controls, and the
// Hangul medial vowels and final consonants that combine with a leading one.
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}\u1160-\u11ff\ud7b0-\ud7ff]$/u;
const VS16 = "\ufe0f";
const ZWJ = "\u200d";
const KEYCAP = "\u20e3";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The columns one code point takes on its own: 0, 1 or 2.
 *
 * @example
 * ```ts
 * codePointWidth("a"); // 1
 * codePointWidth("漢"); // 2
 * codePointWidth("\u0301"); // 0 (combining acute accent)
 * ```
 */
export function codePointWidth(char: string): 0 | 1 | 2 {
  if (ZERO_WIDTH.test(char)) return 0;
  if (EMOJI_PRESENTATION.test(char) || eastAsianWidth(char.codePointAt(0)!) === 2) return 2;
  return 1;
}

/**
 * The columns one grapheme takes.
 *
 * @example
 * ```ts
 * graphemeWidth("👨‍👩‍👧"); // 2 (a ZWJ sequence is one emoji)
 * graphemeWidth("❤️"); // 2 (VS16 asks for emoji presentation)
 * graphemeWidth("é"); // 1, also when written as "e" and a combining accent
 * ```
 */
export function graphemeWidth(grapheme: string): number {
  const first = String.fromCodePoint(grapheme.codePointAt(0) ?? 0);
  if (grapheme.length > first.length) {
    // An emoji with modifiers, or joined into a sequence, is drawn as one.
    if (EMOJI_PRESENTATION.test(first)) return 2;
    if (PICTOGRAPHIC.test(first) && (grapheme.includes(ZWJ) || grapheme.includes(VS16))) return 2;
    if (grapheme.includes(KEYCAP) && grapheme.includes(VS16)) return 2;
  }
  let width = 0;
  for (const char of grapheme) width += codePointWidth(char);
  return width;
}

/**
 * Splits `text` into graphemes.
 *
 * @example
 * ```ts
 * graphemes("e\u0301x"); // ["e\u0301", "x"]
 * ```
 */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (part) => part.segment);
}

/**
 * Where each grapheme of `text` starts, as UTF-16 offsets, followed by
 * `text.length`.
 */
export function graphemeBoundaries(text: string): number[] {
  const boundaries = Array.from(segmenter.segment(text), (part) => part.index);
  boundaries.push(text.length);
  return boundaries;
}

/**
 * The columns `text` takes in a terminal. Text with line breaks or tabs has
 * no single width; they count as zero here.
 *
 * @example
 * ```ts
 * textWidth("hi 世界 🎉"); // 10
 * ```
 */
export function textWidth(text: string): number {
  // Most text is ASCII: skip the segmenter for it.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let width = 0;
  for (const { segment } of segmenter.segment(text)) width += graphemeWidth(segment);
  return width;
}
