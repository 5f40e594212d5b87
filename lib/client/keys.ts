/**
 * Turns the bytes a terminal sends in raw mode into keys: typed text, and
 * editing keys from control characters and escape sequences (CSI and SS3, as
 * xterm, VT100 and their descendants send them).
 *
 * A read can end in the middle of an escape sequence or of a UTF-8
 * character; the rest is kept until the next read. A lone ESC cannot be told
 * apart from the start of a sequence until the terminal has been quiet for a
 * moment, so the caller calls {@linkcode KeyDecoder.flush} after such a pause.
 *
 * It does not read the terminal itself and does not know what the keys do.
 *
 * @module
 */

/** Keys that are not text. */
export type KeyName =
  | "enter"
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "up"
  | "down"
  | "home"
  | "end"
  | "word_left"
  | "word_right"
  | "kill_to_start"
  | "kill_to_end"
  | "kill_word"
  | "redraw"
  | "interrupt"
  | "eof"
  | "escape";

/** One decoded key press, or a run of typed text. */
export type Key = { type: "text"; text: string } | { type: "key"; name: KeyName };

const CONTROL_KEYS: Readonly<Record<string, KeyName>> = {
  "\r": "enter",
  "\n": "enter",
  "\x7f": "backspace",
  "\b": "backspace",
  "\x01": "home", // Ctrl-A
  "\x05": "end", // Ctrl-E
  "\x02": "left", // Ctrl-B
  "\x06": "right", // Ctrl-F
  "\x10": "up", // Ctrl-P
  "\x0e": "down", // Ctrl-N
  "\x15": "kill_to_start", // Ctrl-U
  "\x0b": "kill_to_end", // Ctrl-K
  "\x17": "kill_word", // Ctrl-W
  "\x0c": "redraw", // Ctrl-L
  "\x03": "interrupt", // Ctrl-C
  "\x04": "eof", // Ctrl-D
};

const FINAL_KEYS: Readonly<Record<string, KeyName>> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
};

/** `ESC [ n ~` keys, by `n`. */
const TILDE_KEYS: Readonly<Record<string, KeyName>> = {
  "1": "home",
  "7": "home",
  "4": "end",
  "8": "end",
  "3": "delete",
};

/** `ESC x` (Alt or Meta with a key), readline style. */
const ALT_KEYS: Readonly<Record<string, KeyName>> = {
  b: "word_left",
  f: "word_right",
  "\x7f": "kill_word",
  "\b": "kill_word",
};

/** Longer unfinished sequences than this are garbage, not a sequence still arriving. */
const MAX_SEQUENCE = 32;

/** Where a sequence ends, or `null` while it is incomplete. */
type Parsed = { key: Key | null; length: number } | null;

function key(name: KeyName): Key {
  return { type: "key", name };
}

function parseCsi(input: string, start: number): Parsed {
  // ESC [ parameters (0x30-0x3f) intermediates (0x20-0x2f) final (0x40-0x7e)
  for (let i = start + 2; i < input.length; i++) {
    const code = input.charCodeAt(i);
    if (code >= 0x40 && code <= 0x7e) {
      const params = input.slice(start + 2, i);
      const final = input[i];
      const length = i + 1 - start;
      // A modifier parameter ("1;5C" is Ctrl-Right) turns arrows into word moves.
      const modified = /;[2-8]$/.test(params);
      if (final === "~") {
        const name = TILDE_KEYS[params.split(";")[0]];
        return { key: name ? key(name) : null, length };
      }
      const name = FINAL_KEYS[final];
      if (name === "left" && modified) return { key: key("word_left"), length };
      if (name === "right" && modified) return { key: key("word_right"), length };
      return { key: name ? key(name) : null, length };
    }
    if (code < 0x20 || code > 0x3f) return { key: null, length: i - start };
  }
  return input.length - start > MAX_SEQUENCE ? { key: null, length: input.length - start } : null;
}

function parseEscape(input: string, start: number): Parsed {
  if (start + 1 >= input.length) return null;
  const next = input[start + 1];
  if (next === "[") return parseCsi(input, start);
  if (next === "O") {
    if (start + 2 >= input.length) return null;
    const name = FINAL_KEYS[input[start + 2]];
    return { key: name ? key(name) : null, length: 3 };
  }
  if (next === "\x1b") return { key: key("escape"), length: 1 };
  const name = ALT_KEYS[next];
  return { key: name ? key(name) : null, length: 2 };
}

/**
 * Decodes terminal input into keys, keeping incomplete sequences between
 * reads.
 *
 * @example
 * ```ts
 * const decoder = new KeyDecoder();
 * decoder.decode(new TextEncoder().encode("hi\x1b[")); // [{ type: "text", text: "hi" }]
 * decoder.decode(new TextEncoder().encode("D")); // [{ type: "key", name: "left" }]
 * ```
 */
export class KeyDecoder {
  readonly #utf8 = new TextDecoder();
  #pending = "";

  /** Whether an incomplete sequence is waiting for more input (see {@linkcode flush}). */
  get hasPending(): boolean {
    return this.#pending !== "";
  }

  /** Decodes the bytes of one read. */
  decode(bytes: Uint8Array): Key[] {
    return this.#parse(this.#pending + this.#utf8.decode(bytes, { stream: true }), false);
  }

  /**
   * Decodes what is still pending as complete: called once the terminal was
   * quiet for a moment, so a lone ESC is the Escape key.
   */
  flush(): Key[] {
    return this.#parse(this.#pending, true);
  }

  #parse(input: string, final: boolean): Key[] {
    const keys: Key[] = [];
    let text = "";
    const endText = () => {
      if (text !== "") keys.push({ type: "text", text });
      text = "";
    };
    let i = 0;
    this.#pending = "";
    while (i < input.length) {
      const char = input[i];
      if (char === "\x1b") {
        endText();
        const parsed = parseEscape(input, i);
        if (parsed === null) {
          if (!final) {
            this.#pending = input.slice(i);
            break;
          }
          keys.push(key("escape"));
          i += 1;
          continue;
        }
        if (parsed.key) keys.push(parsed.key);
        i += parsed.length;
        continue;
      }
      const name = CONTROL_KEYS[char];
      if (name) {
        endText();
        keys.push(key(name));
        // Enter can come as CR LF (pasted text): one key.
        i += char === "\r" && input[i + 1] === "\n" ? 2 : 1;
        continue;
      }
      const code = char.charCodeAt(0);
      if (code >= 0x20 || char === "\t") text += char;
      i += 1;
    }
    endText();
    return keys;
  }
}
