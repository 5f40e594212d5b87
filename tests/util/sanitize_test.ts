/** Text from the network made safe for other users' terminals. */

import assert from "node:assert/strict";
import { sanitize } from "../../lib/util/sanitize.ts";

Deno.test("ESC sequences lose their ESC byte so the terminal cannot act on them", () => {
  assert.equal(sanitize("hi\x1b[2Jthere"), "hi[2Jthere");
  assert.equal(sanitize("\x1b]0;pwned\x07title"), "]0;pwnedtitle");
  assert.equal(sanitize("\x1b[31mred\x1b[0m"), "[31mred[0m");
  assert.ok(!sanitize("a\x1bb\x1b\x1b").includes("\x1b"));
});

Deno.test("BEL, NUL, DEL and every other C0 control except tab are removed", () => {
  assert.equal(sanitize("ding\x07 dong"), "ding dong");
  assert.equal(sanitize("nul\x00byte"), "nulbyte");
  assert.equal(sanitize("del\x7fete"), "delete");
  for (let code = 0; code < 0x20; code++) {
    const char = String.fromCharCode(code);
    const expected = code === 0x09 ? `a${char}b` : "ab";
    assert.equal(sanitize(`a${char}b`), expected, `U+${code.toString(16).padStart(4, "0")}`);
  }
});

Deno.test("C1 controls U+0080 to U+009F are removed", () => {
  for (let code = 0x80; code <= 0x9f; code++) {
    assert.equal(sanitize(`a${String.fromCharCode(code)}b`), "ab", `U+00${code.toString(16)}`);
  }
  // CSI (U+009B) is the one-character form of ESC [.
  assert.equal(sanitize("\u009b2Jclear"), "2Jclear");
});

Deno.test("CR and LF inside text are removed so one message cannot forge another line", () => {
  assert.equal(sanitize("hello\r\n[admin]: fake"), "hello[admin]: fake");
  assert.equal(sanitize("a\rb\nc"), "abc");
});

Deno.test("line and paragraph separators U+2028 and U+2029 are removed", () => {
  assert.equal(sanitize("one\u2028two\u2029three"), "onetwothree");
});

Deno.test("bidi overrides, embeddings and isolates are removed", () => {
  for (const code of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
    assert.equal(sanitize(`x${String.fromCharCode(code)}y`), "xy", `U+${code.toString(16)}`);
  }
  assert.equal(sanitize("invoice\u202egpj.exe"), "invoicegpj.exe");
});

Deno.test("zero-width space and the byte order mark are removed", () => {
  assert.equal(sanitize("ad\u200bmin"), "admin");
  assert.equal(sanitize("\ufeffhello"), "hello");
});

Deno.test("tab is kept", () => {
  assert.equal(sanitize("a\tb\t"), "a\tb\t");
});

Deno.test("ZWJ emoji sequences, CJK and accented letters pass through unchanged", () => {
  const samples = [
    "👨\u200d👩\u200d👧\u200d👦 family",
    "🏳️\u200d🌈 and 👩🏽\u200d💻",
    "李雷和韩梅梅 こんにちは 안녕하세요",
    "Zoë, café, naïve, Ångström, ñandú",
    "Zoe\u0308 (combining diaeresis)",
    "مرحبا שלום नमस्ते",
    "plain ascii with punctuation: {}[]()!?.,;:'\"<>",
  ];
  for (const text of samples) assert.equal(sanitize(text), text);
});

Deno.test("the zero-width non-joiner is kept, since several scripts need it", () => {
  const persian = "می\u200cخواهم";
  assert.equal(sanitize(persian), persian);
});
