/**
 * The state of the line being typed: its text, the cursor, the history of
 * submitted lines, and how the line shows in a given number of columns.
 *
 * The cursor moves by grapheme (an emoji or an accented letter is one step),
 * and widths come from `text_width.ts`, so wide characters are measured the
 * way the terminal draws them. A line wider than the space it has scrolls
 * horizontally to keep the cursor in view.
 *
 * It does no I/O and knows nothing about keys or escape sequences: the
 * terminal module maps keys to these methods and draws what
 * {@linkcode LineEditor.render} returns.
 *
 * @module
 */

import { graphemeBoundaries, graphemeWidth, textWidth } from "./text_width.ts";

/** What to draw for the input line. */
export interface RenderedLine {
  /** The visible part of the line. */
  text: string;
  /** The cursor's column, counted from the start of `text` (0-based). */
  cursorColumn: number;
}

/** Options for {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /** Most lines kept for up/down; the oldest go first. Defaults to 500. */
  historyLimit?: number;
}

// Line breaks and other controls cannot be part of a line; a tab becomes a
// space so that the line's width stays known.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g;

const SPACE = /^\s$/u;

/**
 * An editable line with history.
 *
 * @example
 * ```ts
 * const editor = new LineEditor();
 * editor.insert("helo");
 * editor.left();
 * editor.insert("l");
 * editor.submit(); // "hello"; the line is now empty and "hello" is in the history
 * ```
 */
export class LineEditor {
  #text = "";
  /** UTF-16 offset; always on a grapheme boundary. */
  #cursor = 0;
  /** UTF-16 offset of the first visible grapheme. */
  #scroll = 0;
  readonly #history: string[] = [];
  /** Index into the history while browsing it; `history.length` when not. */
  #browsing = 0;
  /** The unsubmitted line, kept while browsing the history. */
  #draft = "";
  readonly #historyLimit: number;

  constructor(options: LineEditorOptions = {}) {
    this.#historyLimit = options.historyLimit ?? 500;
  }

  /** The whole line. */
  get text(): string {
    return this.#text;
  }

  /** The cursor as a UTF-16 offset into {@linkcode text}. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Submitted lines, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /** Inserts typed or pasted text at the cursor and moves the cursor past it. */
  insert(text: string): void {
    const clean = text.replaceAll("\t", " ").replace(CONTROL, "");
    if (clean === "") return;
    const end = this.#cursor + clean.length;
    this.#text = this.#text.slice(0, this.#cursor) + clean + this.#text.slice(this.#cursor);
    // What was inserted can merge with its neighbours into one grapheme (a
    // combining accent typed after a letter): land on the next boundary.
    this.#cursor = graphemeBoundaries(this.#text).find((boundary) => boundary >= end)!;
  }

  /** Moves one grapheme left. */
  left(): void {
    this.#cursor = this.#previous(this.#cursor);
  }

  /** Moves one grapheme right. */
  right(): void {
    this.#cursor = this.#next(this.#cursor);
  }

  /** Moves to the start of the word before the cursor. */
  wordLeft(): void {
    this.#cursor = this.#wordStart(this.#cursor);
  }

  /** Moves past the end of the word after the cursor. */
  wordRight(): void {
    let at = this.#cursor;
    while (at < this.#text.length && this.#isSpaceAt(at)) at = this.#next(at);
    while (at < this.#text.length && !this.#isSpaceAt(at)) at = this.#next(at);
    this.#cursor = at;
  }

  /** Moves to the start of the line. */
  home(): void {
    this.#cursor = 0;
  }

  /** Moves to the end of the line. */
  end(): void {
    this.#cursor = this.#text.length;
  }

  /** Deletes the grapheme before the cursor. */
  backspace(): void {
    this.#delete(this.#previous(this.#cursor), this.#cursor);
  }

  /** Deletes the grapheme under the cursor. */
  deleteForward(): void {
    this.#delete(this.#cursor, this.#next(this.#cursor));
  }

  /** Deletes from the start of the line to the cursor (Ctrl-U). */
  killToStart(): void {
    this.#delete(0, this.#cursor);
  }

  /** Deletes from the cursor to the end of the line (Ctrl-K). */
  killToEnd(): void {
    this.#delete(this.#cursor, this.#text.length);
  }

  /** Deletes the word before the cursor and any spaces between it and the cursor (Ctrl-W). */
  killWordBefore(): void {
    this.#delete(this.#wordStart(this.#cursor), this.#cursor);
  }

  /** Shows the previous history line; the line being typed is kept for later. */
  historyUp(): void {
    if (this.#browsing === 0) return;
    if (this.#browsing === this.#history.length) this.#draft = this.#text;
    this.#browsing--;
    this.#show(this.#history[this.#browsing]);
  }

  /** Shows the next history line, and after the newest the line that was being typed. */
  historyDown(): void {
    if (this.#browsing === this.#history.length) return;
    this.#browsing++;
    this.#show(
      this.#browsing === this.#history.length ? this.#draft : this.#history[this.#browsing],
    );
  }

  /**
   * Returns the line and starts an empty one. A line that is not blank and
   * differs from the newest history entry is added to the history, unless
   * `remember` is false (a password, or a command carrying one).
   */
  submit(remember = true): string {
    const line = this.#text;
    if (remember && line.trim() !== "" && this.#history.at(-1) !== line) {
      this.#history.push(line);
      if (this.#history.length > this.#historyLimit) this.#history.shift();
    }
    this.#browsing = this.#history.length;
    this.#draft = "";
    this.#show("");
    return line;
  }

  /**
   * The part of the line to draw in `width` columns, and where the cursor
   * goes. The cursor always gets a column of its own, so a line scrolls once
   * it reaches the last column.
   *
   * @param width the columns available to the line (at least 1).
   */
  render(width: number): RenderedLine {
    width = Math.max(1, Math.floor(width));
    const boundaries = graphemeBoundaries(this.#text);
    const widthOf = (from: number, to: number) => textWidth(this.#text.slice(from, to));

    if (!boundaries.includes(this.#scroll) || this.#scroll > this.#cursor) {
      this.#scroll = Math.min(this.#cursor, this.#scroll);
      this.#scroll = boundaries.findLast((boundary) => boundary <= this.#scroll) ?? 0;
    }
    // Keep the cursor in view...
    while (widthOf(this.#scroll, this.#cursor) > width - 1) {
      this.#scroll = this.#next(this.#scroll);
    }
    // ...and show as much as fits when the line got shorter.
    while (this.#scroll > 0) {
      const earlier = this.#previous(this.#scroll);
      const shown = Math.max(
        widthOf(earlier, this.#text.length),
        widthOf(earlier, this.#cursor) + 1,
      );
      if (shown > width) break;
      this.#scroll = earlier;
    }

    let text = "";
    let used = 0;
    for (let i = boundaries.indexOf(this.#scroll); i < boundaries.length - 1; i++) {
      const grapheme = this.#text.slice(boundaries[i], boundaries[i + 1]);
      const columns = graphemeWidth(grapheme);
      if (used + columns > width) break;
      text += grapheme;
      used += columns;
    }
    return { text, cursorColumn: widthOf(this.#scroll, this.#cursor) };
  }

  #show(text: string): void {
    this.#text = text;
    this.#cursor = text.length;
  }

  #delete(from: number, to: number): void {
    if (from >= to) return;
    this.#text = this.#text.slice(0, from) + this.#text.slice(to);
    this.#cursor = from;
  }

  #previous(at: number): number {
    if (at <= 0) return 0;
    return graphemeBoundaries(this.#text).findLast((boundary) => boundary < at) ?? 0;
  }

  #next(at: number): number {
    if (at >= this.#text.length) return this.#text.length;
    return graphemeBoundaries(this.#text).find((boundary) => boundary > at)!;
  }

  #isSpaceAt(at: number): boolean {
    return SPACE.test(this.#text.slice(at, this.#next(at)));
  }

  #wordStart(at: number): number {
    while (at > 0 && this.#isSpaceAt(this.#previous(at))) at = this.#previous(at);
    while (at > 0 && !this.#isSpaceAt(this.#previous(at))) at = this.#previous(at);
    return at;
  }
}
