/**
 * Terminal column widths of graphemes: ASCII, CJK, emoji sequences, and
 * characters that take no column at all.
 */

import assert from "node:assert/strict";
import {
  codePointWidth,
  graphemes,
  graphemeWidth,
  textWidth,
} from "../../lib/client/text_width.ts";

Deno.test("ASCII takes one column per character", () => {
  assert.equal(textWidth(""), 0);
  assert.equal(textWidth("hello, world"), 12);
});

Deno.test("CJK, Hangul, kana and fullwidth forms take two columns", () => {
  assert.equal(textWidth("漢字"), 4);
  assert.equal(textWidth("한국어"), 6);
  assert.equal(textWidth("ひらがなカタカナ"), 16);
  assert.equal(textWidth("ＡＢ"), 4);
  assert.equal(textWidth("\u3000"), 2, "ideographic space");
  assert.equal(textWidth("𠀀"), 2, "CJK extension B, outside the BMP");
  assert.equal(textWidth("a漢b"), 4);
});

Deno.test("code points that Unicode 16 and 17 made wide take two columns", () => {
  const ranges: [number, number][] = [
    [0x2630, 0x2637], // trigrams
    [0x268a, 0x268f], // monograms and digrams
    [0x1d300, 0x1d356], // Tai Xuan Jing symbols
  ];
  for (const [first, last] of ranges) {
    for (let codePoint = first; codePoint <= last; codePoint++) {
      const char = String.fromCodePoint(codePoint);
      assert.equal(codePointWidth(char), 2, `U+${codePoint.toString(16).toUpperCase()}`);
    }
  }
  assert.equal(textWidth("\u2630\u{1d300}"), 4);
});

Deno.test("East Asian Ambiguous characters take one column, as outside CJK locales", () => {
  assert.equal(textWidth("±§°"), 3);
  assert.equal(textWidth("αβ"), 2);
});

Deno.test("a lone regional indicator takes two columns, as terminals draw it", () => {
  assert.equal(graphemeWidth("\u{1f1eb}"), 2);
});

Deno.test("emoji take two columns, also as ZWJ sequences, with VS16, skin tones, flags and keycaps", () => {
  assert.equal(graphemeWidth("😀"), 2);
  assert.equal(graphemeWidth("🎉"), 2);
  assert.equal(graphemeWidth("👨‍👩‍👧"), 2, "family: a ZWJ sequence");
  assert.equal(graphemeWidth("🏳️‍🌈"), 2, "rainbow flag: VS16 and ZWJ");
  assert.equal(graphemeWidth("❤️"), 2, "text-default heart made emoji by VS16");
  assert.equal(graphemeWidth("👍🏽"), 2, "skin tone modifier");
  assert.equal(graphemeWidth("🇫🇷"), 2, "regional indicator pair");
  assert.equal(graphemeWidth("1️⃣"), 2, "keycap");
  assert.equal(textWidth("hi 👨‍👩‍👧!"), 6);
});

Deno.test("symbols that are text by default stay one column without VS16", () => {
  assert.equal(graphemeWidth("❤"), 1);
  assert.equal(graphemeWidth("©"), 1);
  assert.equal(graphemeWidth("→"), 1);
});

Deno.test("combining marks, format characters and controls take no column", () => {
  assert.equal(codePointWidth("\u0301"), 0, "combining acute");
  assert.equal(codePointWidth("\u200d"), 0, "ZWJ");
  assert.equal(codePointWidth("\u200b"), 0, "zero-width space");
  assert.equal(codePointWidth("\ufe0f"), 0, "variation selector");
  assert.equal(codePointWidth("\x1b"), 0);
  assert.equal(textWidth("e\u0301"), 1, "decomposed é");
  assert.equal(textWidth("Z\u0351\u0324\u0333"), 1, "stacked marks");
  assert.equal(textWidth("\u1100\u1161\u11a8"), 2, "Hangul syllable from jamo");
  assert.equal(codePointWidth("\u1161"), 0, "Hangul medial vowel");
  assert.equal(codePointWidth("\u11a8"), 0, "Hangul final consonant");
  assert.equal(codePointWidth("\ud7cb"), 0, "Hangul final consonant, extended-B");
});

Deno.test("graphemes keep a letter with its marks and an emoji sequence whole", () => {
  assert.deepEqual(graphemes("e\u0301x"), ["e\u0301", "x"]);
  assert.deepEqual(graphemes("a👨‍👩‍👧b"), ["a", "👨‍👩‍👧", "b"]);
  assert.deepEqual(graphemes("🇫🇷🇩🇪"), ["🇫🇷", "🇩🇪"]);
});

Deno.test("an Indic conjunct counts its visible letters, as terminals draw it", () => {
  // स्ते is one grapheme of two spacing letters; virama and vowel sign take no column.
  assert.equal(textWidth("नमस्ते"), 4);
});
