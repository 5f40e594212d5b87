/**
 * The client's interface when it is not in a terminal (pipes, files,
 * scripts): every line read from standard input is one input line, chat
 * lines go to standard output and the client's own reports to standard
 * error, all as plain text without any escape sequence.
 *
 * `printf 'hi\nexit\n' | chat-client localhost 6000 bot` therefore sends
 * "hi" and leaves, and `chat-client ... > log` records the chat alone.
 *
 * @module
 */

import type { ClientUi, UserInput } from "./app.ts";
import type { OutputLine } from "./render.ts";

/** Where lines are written: `Deno.stdout` and `Deno.stderr` fit. */
export interface SyncWriter {
  writeSync(bytes: Uint8Array): number;
}

const encoder = new TextEncoder();

/** Writes all of `text`, ignoring a reader that went away (nobody is left to tell). */
export function writeAllSync(writer: SyncWriter, text: string): void {
  const bytes = encoder.encode(text);
  try {
    let written = 0;
    while (written < bytes.length) written += writer.writeSync(bytes.subarray(written));
  } catch {
    // A closed pipe: the output is unwanted, the chat itself goes on.
  }
}

/** Lines on stdin, stdout and stderr. */
export class PlainUi implements ClientUi {
  readonly color = false;
  readonly #stdin: ReadableStream<Uint8Array>;
  readonly #stdout: SyncWriter;
  readonly #stderr: SyncWriter;

  constructor(stdin: ReadableStream<Uint8Array>, stdout: SyncWriter, stderr: SyncWriter) {
    this.#stdin = stdin;
    this.#stdout = stdout;
    this.#stderr = stderr;
  }

  show(line: OutputLine): void {
    writeAllSync(line.channel === "chat" ? this.#stdout : this.#stderr, `${line.text}\n`);
  }

  setOnline(): void {
    // Plain output has no prompt to change; the status lines say it.
  }

  askSecret(prompt: string): void {
    // The next line of standard input is the secret; a pipe echoes nothing anyway.
    writeAllSync(this.#stderr, `${prompt}\n`);
  }

  async *input(): AsyncGenerator<UserInput> {
    let partial = "";
    for await (const text of this.#stdin.pipeThrough(new TextDecoderStream())) {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) yield { type: "line", text: line.replace(/\r$/, "") };
    }
    if (partial !== "") yield { type: "line", text: partial };
    yield { type: "end" };
  }
}
