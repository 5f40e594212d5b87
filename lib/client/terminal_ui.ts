/**
 * The client's interface in a terminal: raw mode, output scrolling above and
 * the line being typed below it, never garbled by what arrives meanwhile.
 *
 * Each output line is written as "go to column 0, clear the line, the text,
 * new line", followed by the prompt and the visible part of the input line
 * with the cursor put back where it was. Keys come from `keys.ts`; editing
 * is `line_editor.ts`. The terminal size is read on every redraw and a
 * resize (SIGWINCH) redraws.
 *
 * {@linkcode TerminalUi.restore} leaves the terminal as it was (cooked mode,
 * echo on, the input line cleared); it is safe to call more than once and
 * from any exit path. It does not use the alternate screen, so the chat
 * stays in the scrollback after leaving.
 *
 * @module
 */

import type { ClientUi, UserInput } from "./app.ts";
import { type Key, KeyDecoder } from "./keys.ts";
import { LineEditor } from "./line_editor.ts";
import { writeAllSync } from "./plain_ui.ts";
import type { OutputLine } from "./render.ts";
import { textWidth } from "./text_width.ts";
import { EXPIRED, within } from "../util/deadline.ts";
import { isAccountLine } from "../protocol/commands.ts";

/** How long the terminal must be quiet before a lone ESC counts as the Escape key. */
const ESCAPE_DELAY_MS = 50;

const CLEAR_LINE = "\r\x1b[2K";

/** The terminal as {@linkcode TerminalUi} uses it; `Deno.stdin`/`Deno.stdout` by default. */
export interface TerminalIo {
  stdin: {
    read(buffer: Uint8Array): Promise<number | null>;
    setRaw(mode: boolean): void;
  };
  stdout: { writeSync(bytes: Uint8Array): number };
  /** Columns of the terminal. */
  columns(): number;
}

/** Options for {@linkcode TerminalUi}. */
export interface TerminalUiOptions {
  /** Shown before the input line, e.g. the user name. */
  name: string;
  color: boolean;
  io?: TerminalIo;
}

function defaultIo(): TerminalIo {
  return {
    stdin: Deno.stdin,
    stdout: Deno.stdout,
    columns: () => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 80;
      }
    },
  };
}

/** A raw-mode terminal with an input line under the output. */
export class TerminalUi implements ClientUi {
  readonly color: boolean;
  readonly #name: string;
  readonly #io: TerminalIo;
  readonly #editor = new LineEditor();
  readonly #keys = new KeyDecoder();
  readonly #onResize = () => this.#write(this.#inputLine());
  #raw = false;
  #online = false;
  /** The prompt while a secret is being typed: nothing typed is shown or kept. */
  #secretPrompt: string | null = null;

  constructor(options: TerminalUiOptions) {
    this.color = options.color;
    this.#name = options.name;
    this.#io = options.io ?? defaultIo();
  }

  /** Switches to raw mode and draws the input line. */
  start(): void {
    this.#io.stdin.setRaw(true);
    this.#raw = true;
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGWINCH", this.#onResize);
    this.#write(this.#inputLine());
  }

  /** Clears the input line and leaves raw mode. Idempotent. */
  restore(): void {
    if (!this.#raw) return;
    this.#raw = false;
    if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGWINCH", this.#onResize);
    this.#write(CLEAR_LINE);
    try {
      this.#io.stdin.setRaw(false);
    } catch {
      // The terminal is gone (hang-up): there is nothing left to restore.
    }
  }

  show(line: OutputLine): void {
    if (!this.#raw) {
      writeAllSync(this.#io.stdout, `${line.text}\n`);
      return;
    }
    this.#write(`${CLEAR_LINE}${line.text}\r\n${this.#inputLine()}`);
  }

  setOnline(online: boolean): void {
    if (online === this.#online) return;
    this.#online = online;
    if (this.#raw) this.#write(this.#inputLine());
  }

  askSecret(prompt: string): void {
    this.#secretPrompt = prompt;
    if (this.#raw) this.#write(this.#inputLine());
  }

  async *input(): AsyncGenerator<UserInput> {
    const buffer = new Uint8Array(4096);
    let reading: Promise<number | null> | null = null;
    try {
      while (true) {
        reading ??= this.#io.stdin.read(buffer);
        const n = this.#keys.hasPending ? await within(reading, ESCAPE_DELAY_MS) : await reading;
        let keys: Key[];
        if (n === EXPIRED) {
          keys = this.#keys.flush();
        } else {
          reading = null;
          if (n === null) break;
          keys = this.#keys.decode(buffer.subarray(0, n));
        }
        for (const key of keys) {
          const input = this.#handle(key);
          if (input) yield input;
          if (input?.type === "end") return;
        }
        this.#write(this.#inputLine());
      }
    } finally {
      // Abandoned mid-read at exit: its failure is expected, not unhandled.
      reading?.catch(() => {});
    }
    yield { type: "end" };
  }

  /** Applies one key; returns what it means for the client, if anything. */
  #handle(key: Key): UserInput | null {
    const editor = this.#editor;
    if (key.type === "text") {
      editor.insert(key.text);
      return null;
    }
    switch (key.name) {
      case "enter": {
        const secret = this.#secretPrompt !== null;
        this.#secretPrompt = null;
        return { type: "line", text: editor.submit(!secret && !isAccountLine(editor.text)) };
      }
      case "interrupt":
        return { type: "end" };
      case "eof":
        // Ctrl-D leaves on an empty line and deletes forward otherwise, as in a shell.
        if (editor.text === "") return { type: "end" };
        editor.deleteForward();
        return null;
      case "backspace":
        editor.backspace();
        break;
      case "delete":
        editor.deleteForward();
        break;
      case "left":
        editor.left();
        break;
      case "right":
        editor.right();
        break;
      case "word_left":
        editor.wordLeft();
        break;
      case "word_right":
        editor.wordRight();
        break;
      case "home":
        editor.home();
        break;
      case "end":
        editor.end();
        break;
      case "up":
        // A password is typed blind: the history must not replace it unseen.
        if (this.#secretPrompt === null) editor.historyUp();
        break;
      case "down":
        if (this.#secretPrompt === null) editor.historyDown();
        break;
      case "kill_to_start":
        editor.killToStart();
        break;
      case "kill_to_end":
        editor.killToEnd();
        break;
      case "kill_word":
        editor.killWordBefore();
        break;
      case "redraw":
      case "escape":
        break;
    }
    return null;
  }

  /** The prompt and the visible input, with the cursor placed. */
  #inputLine(): string {
    if (this.#secretPrompt !== null) {
      // No echo, not even stars: the length of a password is a secret too.
      const styled = this.color ? `\x1b[1m${this.#secretPrompt}\x1b[0m` : this.#secretPrompt;
      return `${CLEAR_LINE}${styled}`;
    }
    const prompt = `${this.#online ? "" : "(offline) "}${this.#name}> `;
    const promptWidth = textWidth(prompt);
    // The last column stays free: writing there makes some terminals wrap.
    const view = this.#editor.render(Math.max(1, this.#io.columns() - promptWidth - 1));
    const styled = this.color ? `\x1b[1m${prompt}\x1b[0m` : prompt;
    const column = promptWidth + view.cursorColumn;
    return `${CLEAR_LINE}${styled}${view.text}\r${column > 0 ? `\x1b[${column}C` : ""}`;
  }

  #write(text: string): void {
    writeAllSync(this.#io.stdout, text);
  }
}
