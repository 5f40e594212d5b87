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
 * @module
 */

// Wide and Fullwidth ranges of Unicode's EastAsianWidth.txt, other than the
// emoji, which `EMOJI_PRESENTATION` covers. Sorted, for a binary search.
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2329, 0x232a],
  [0x2e80, 0x2e99],
  [0x2e9b, 0x2ef3],
  [0x2f00, 0x2fd5],
  [0x2ff0, 0x303e],
  [0x3041, 0x3096],
  [0x3099, 0x30ff],
  [0x3105, 0x312f],
  [0x3131, 0x318e],
  [0x3190, 0x31e5],
  [0x31ef, 0x321e],
  [0x3220, 0x3247],
  [0x3250, 0xa48c],
  [0xa490, 0xa4c6],
  [0xa960, 0xa97c],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe52],
  [0xfe54, 0xfe66],
  [0xfe68, 0xfe6b],
  [0xff01, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x16ff0, 0x16ff1],
  [0x17000, 0x187f7],
  [0x18800, 0x18cd5],
  [0x18d00, 0x18d08],
  [0x1aff0, 0x1b2fb],
  [0x1f200, 0x1f202],
  [0x1f210, 0x1f23b],
  [0x1f240, 0x1f248],
  [0x1f250, 0x1f251],
  [0x1f260, 0x1f265],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u;
const PICTOGRAPHIC = /\p{Extended_Pictographic}/u;
// Marks, format characters (ZWJ, ZWSP, soft hyphen...), controls, and the
// Hangul medial vowels and final consonants that combine with a leading one.
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}\u1160-\u11ff\ud7b0-\ud7ff]$/u;
const VS16 = "\ufe0f";
const ZWJ = "\u200d";
const KEYCAP = "\u20e3";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

function isWide(codePoint: number): boolean {
  let low = 0;
  let high = WIDE.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = WIDE[middle];
    if (codePoint < first) high = middle - 1;
    else if (codePoint > last) low = middle + 1;
    else return true;
  }
  return false;
}

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
  if (EMOJI_PRESENTATION.test(char) || isWide(char.codePointAt(0)!)) return 2;
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
