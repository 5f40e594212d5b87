/**
 * Decoding raw terminal input into keys, including escape sequences and
 * UTF-8 characters split across reads.
 */

import assert from "node:assert/strict";
import { type Key, KeyDecoder, type KeyName } from "../../lib/client/keys.ts";

const encoder = new TextEncoder();

function decodeAll(...chunks: (string | Uint8Array)[]): Key[] {
  const decoder = new KeyDecoder();
  return chunks.flatMap((chunk) =>
    decoder.decode(typeof chunk === "string" ? encoder.encode(chunk) : chunk)
  );
}

const key = (name: KeyName): Key => ({ type: "key", name });
const text = (value: string): Key => ({ type: "text", text: value });

Deno.test("typed text comes as one run; control characters are editing keys", () => {
  assert.deepEqual(decodeAll("hi there\r"), [text("hi there"), key("enter")]);
  assert.deepEqual(decodeAll("\x7f\b\x01\x05\x15\x0b\x17\x03\x04\x0c"), [
    key("backspace"),
    key("backspace"),
    key("home"),
    key("end"),
    key("kill_to_start"),
    key("kill_to_end"),
    key("kill_word"),
    key("interrupt"),
    key("eof"),
    key("redraw"),
  ]);
  assert.deepEqual(decodeAll("a\r\nb"), [text("a"), key("enter"), text("b")]);
});

Deno.test("CSI and SS3 arrows, home, end and delete in their common spellings", () => {
  assert.deepEqual(decodeAll("\x1b[A\x1b[B\x1b[C\x1b[D"), [
    key("up"),
    key("down"),
    key("right"),
    key("left"),
  ]);
  assert.deepEqual(decodeAll("\x1bOA\x1bOD\x1bOH\x1bOF"), [
    key("up"),
    key("left"),
    key("home"),
    key("end"),
  ]);
  assert.deepEqual(decodeAll("\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[7~\x1b[8~\x1b[3~"), [
    key("home"),
    key("end"),
    key("home"),
    key("end"),
    key("home"),
    key("end"),
    key("delete"),
  ]);
});

Deno.test("Ctrl/Alt-arrows and Alt-b/f move by word; Alt-Backspace deletes a word", () => {
  assert.deepEqual(decodeAll("\x1b[1;5D\x1b[1;5C\x1b[1;3D\x1bb\x1bf\x1b\x7f"), [
    key("word_left"),
    key("word_right"),
    key("word_left"),
    key("word_left"),
    key("word_right"),
    key("kill_word"),
  ]);
});

Deno.test("unknown sequences are swallowed whole, not typed as text", () => {
  assert.deepEqual(decodeAll("a\x1b[15~b\x1b[200~c\x1b[?1;2cd\x1bOPe"), [
    text("a"),
    text("b"),
    text("c"),
    text("d"),
    text("e"),
  ]);
});

Deno.test("an escape sequence split across reads is decoded once complete", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.decode(encoder.encode("ab\x1b")), [text("ab")]);
  assert.ok(decoder.hasPending);
  assert.deepEqual(decoder.decode(encoder.encode("[")), []);
  assert.deepEqual(decoder.decode(encoder.encode("1;")), []);
  assert.deepEqual(decoder.decode(encoder.encode("5Cz")), [key("word_right"), text("z")]);
  assert.ok(!decoder.hasPending);
  assert.deepEqual(decodeAll("\x1bO", "A"), [key("up")]);
  assert.deepEqual(decodeAll("\x1b", "[", "3", "~"), [key("delete")]);
});

Deno.test("a UTF-8 character split across reads arrives whole", () => {
  const bytes = encoder.encode("漢😀");
  assert.deepEqual(
    decodeAll(bytes.subarray(0, 1), bytes.subarray(1, 4), bytes.subarray(4, 5), bytes.subarray(5)),
    [text("漢"), text("😀")],
  );
});

Deno.test("a lone ESC is the Escape key once the terminal is quiet (flush)", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.decode(encoder.encode("\x1b")), []);
  assert.deepEqual(decoder.flush(), [key("escape")]);
  assert.ok(!decoder.hasPending);
  assert.deepEqual(decoder.decode(encoder.encode("x")), [text("x")]);
  assert.deepEqual(decodeAll("\x1b\x1b[A"), [key("escape"), key("up")]);
});

Deno.test("an endless unterminated sequence is dropped instead of held forever", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.decode(encoder.encode(`\x1b[${"1".repeat(40)}`)), []);
  assert.ok(!decoder.hasPending);
  assert.deepEqual(decoder.decode(encoder.encode("ok")), [text("ok")]);
});
