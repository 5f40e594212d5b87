/**
 * The input line's editing state: grapheme-wise cursor moves, deletion,
 * history, and rendering into a fixed number of columns with scrolling.
 */

import assert from "node:assert/strict";
import { LineEditor } from "../../lib/client/line_editor.ts";
import { textWidth } from "../../lib/client/text_width.ts";

function typed(text: string): LineEditor {
  const editor = new LineEditor();
  editor.insert(text);
  return editor;
}

Deno.test("typing inserts at the cursor, which moves by grapheme", () => {
  const editor = typed("helo");
  editor.left();
  editor.insert("l");
  assert.equal(editor.text, "hello");
  editor.home();
  editor.insert(">");
  editor.end();
  editor.insert("!");
  assert.equal(editor.text, ">hello!");
});

Deno.test("left and right step over a whole emoji sequence or accented letter", () => {
  const editor = typed("a👨‍👩‍👧e\u0301b");
  editor.left(); // before b
  editor.left(); // before é
  editor.left(); // before the family
  editor.insert("X");
  assert.equal(editor.text, "aX👨‍👩‍👧e\u0301b");
  editor.right();
  editor.insert("Y");
  assert.equal(editor.text, "aX👨‍👩‍👧Ye\u0301b");
});

Deno.test("backspace and delete remove one grapheme, not one code unit", () => {
  const editor = typed("漢👍🏽e\u0301");
  editor.backspace();
  assert.equal(editor.text, "漢👍🏽");
  editor.backspace();
  assert.equal(editor.text, "漢");
  editor.home();
  editor.deleteForward();
  assert.equal(editor.text, "");
  editor.backspace();
  editor.deleteForward();
  assert.equal(editor.text, "");
});

Deno.test("a combining mark typed after a letter joins it and the cursor stays after both", () => {
  const editor = typed("e");
  editor.insert("\u0301");
  editor.insert("x");
  assert.equal(editor.text, "e\u0301x");
  editor.left();
  editor.left();
  assert.equal(editor.cursor, 0);
});

Deno.test("control characters and line breaks are not inserted; a tab becomes a space", () => {
  const editor = typed("a\x1b[31mb\nc\td\u2028");
  assert.equal(editor.text, "a[31mbc d");
});

Deno.test("Ctrl-U, Ctrl-K and Ctrl-W delete to the start, to the end and the word before", () => {
  const editor = typed("one two  three");
  editor.killWordBefore();
  assert.equal(editor.text, "one two  ");
  editor.killWordBefore();
  assert.equal(editor.text, "one ");
  editor.insert("2 3");
  editor.left();
  editor.left();
  editor.killToEnd();
  assert.equal(editor.text, "one 2");
  editor.left();
  editor.killToStart();
  assert.equal(editor.text, "2");
  assert.equal(editor.cursor, 0);
});

Deno.test("word moves skip spaces and stop at word edges", () => {
  const editor = typed("alpha beta  gamma");
  editor.wordLeft();
  assert.equal(editor.cursor, "alpha beta  ".length);
  editor.wordLeft();
  assert.equal(editor.cursor, "alpha ".length);
  editor.wordRight();
  assert.equal(editor.cursor, "alpha beta".length);
  editor.home();
  editor.wordRight();
  assert.equal(editor.cursor, "alpha".length);
});

Deno.test("submit returns the line, empties it and records it in the history once", () => {
  const editor = typed("first");
  assert.equal(editor.submit(), "first");
  assert.equal(editor.text, "");
  editor.insert("first");
  editor.submit();
  editor.insert("   ");
  assert.equal(editor.submit(), "   ");
  assert.deepEqual(editor.history, ["first"]);
});

Deno.test("up and down browse the history and bring back the line being typed", () => {
  const editor = new LineEditor();
  for (const line of ["one", "two", "three"]) {
    editor.insert(line);
    editor.submit();
  }
  editor.insert("draft");
  editor.historyUp();
  assert.equal(editor.text, "three");
  editor.historyUp();
  editor.historyUp();
  editor.historyUp();
  assert.equal(editor.text, "one");
  editor.historyDown();
  assert.equal(editor.text, "two");
  editor.insert("!");
  assert.equal(editor.submit(), "two!");
  editor.historyUp();
  assert.equal(editor.text, "two!");
  editor.historyDown();
  assert.equal(editor.text, "");

  editor.insert("draft");
  editor.historyUp();
  editor.historyDown();
  assert.equal(editor.text, "draft");
  assert.equal(editor.cursor, 5);
});

Deno.test("the history keeps at most historyLimit lines", () => {
  const editor = new LineEditor({ historyLimit: 2 });
  for (const line of ["a", "b", "c"]) {
    editor.insert(line);
    editor.submit();
  }
  assert.deepEqual(editor.history, ["b", "c"]);
});

Deno.test("a short line renders whole with the cursor at its display column", () => {
  const editor = typed("漢字 ok");
  assert.deepEqual(editor.render(40), { text: "漢字 ok", cursorColumn: 7 });
  editor.home();
  editor.right();
  assert.deepEqual(editor.render(40), { text: "漢字 ok", cursorColumn: 2 });
});

Deno.test("a long line scrolls to keep the cursor visible with a column of its own", () => {
  const editor = typed("abcdefghijklmnopqrstuvwxyz");
  let view = editor.render(10);
  assert.equal(view.text, "rstuvwxyz");
  assert.equal(view.cursorColumn, 9);
  editor.home();
  view = editor.render(10);
  assert.equal(view.text, "abcdefghij");
  assert.equal(view.cursorColumn, 0);
  for (let i = 0; i < 12; i++) editor.right();
  view = editor.render(10);
  assert.equal(view.text, "defghijklm");
  assert.equal(view.cursorColumn, 9);
  editor.end();
  for (let i = 0; i < 20; i++) editor.backspace();
  view = editor.render(10);
  assert.equal(view.text, "abcdef");
  assert.equal(view.cursorColumn, 6);
});

Deno.test("scrolling never splits a wide character and never overflows the width", () => {
  const editor = typed("漢字かなカナ漢字かなカナ");
  for (const width of [1, 2, 3, 5, 8, 11]) {
    for (let step = 0; step <= 12; step++) {
      const view = editor.render(width);
      assert.ok(textWidth(view.text) <= width, `width ${width}: ${view.text}`);
      assert.ok(view.cursorColumn <= Math.max(0, width - 1), `cursor in width ${width}`);
      editor.left();
    }
    editor.end();
  }
  // 字かな would leave no column for the cursor after it.
  assert.deepEqual(typed("漢字かな").render(6), { text: "かな", cursorColumn: 4 });
});
