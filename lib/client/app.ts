/**
 * The chat client's main loop, independent of how it talks to the user:
 * connects, shows every event through a {@linkcode ClientUi}, and turns each
 * typed line into a message or a command until the user leaves, the server
 * refuses the client, or reconnecting gives up.
 *
 * The user interfaces are `terminal_ui.ts` (raw mode with an input line) and
 * `plain_ui.ts` (lines on stdin and stdout); the connection is
 * `connection.ts`.
 *
 * @module
 */

import { type ClientOptions, LEAVE_KEYS } from "./args.ts";
import { COMMAND_HELP, parseInput, unknownCommandText } from "../protocol/commands.ts";
import { ChatConnection, type ChatConnectionOptions } from "./connection.ts";
import { type OutputLine, renderEvent, renderStatus } from "./render.ts";

/** Something the user did. */
export type UserInput =
  | { type: "line"; text: string }
  /** The user is done: end of input (Ctrl-D) or Ctrl-C. */
  | { type: "end" };

/** How the client talks to its user. */
export interface ClientUi {
  /** Whether lines may carry colours and styles. */
  readonly color: boolean;
  /** Shows one line. */
  show(line: OutputLine): void;
  /** Tells the UI whether the connection is up, e.g. for its prompt. */
  setOnline(online: boolean): void;
  /** The user's lines, ending with `end` or when input ends. */
  input(): AsyncIterable<UserInput>;
}

/** Options for {@linkcode runClient} beyond the command line. */
export interface RunOptions {
  /** Leaving early (a signal): stop reading input and quit. */
  signal?: AbortSignal;
  /** Passed on to the connection (tests shorten its timers). */
  connection?: Partial<ChatConnectionOptions>;
  /** How long leaving waits for receipts with nothing happening. Defaults to 5 s. */
  quitTimeoutMs?: number;
}

/**
 * Runs one chat session and returns the exit code: 0 after leaving with
 * every message confirmed, 1 when the client was refused, gave up
 * reconnecting, or left with a message unconfirmed.
 */
export async function runClient(
  options: ClientOptions,
  ui: ClientUi,
  run: RunOptions = {},
): Promise<number> {
  const { host, port, user } = options;
  const status = (text: string, level: "info" | "warn" | "error") =>
    ui.show(renderStatus(text, level, ui));

  let chat: ChatConnection;
  try {
    chat = await ChatConnection.open({ ...options, ...run.connection });
  } catch (error) {
    status((error as Error).message, "error");
    return 1;
  }
  status(`connected to ${host}:${port} as ${user}; /help lists the commands`, "info");
  ui.setOnline(true);

  const printing = (async () => {
    for await (const event of chat.events) {
      ui.show(renderEvent(event, ui));
      ui.setOnline(chat.online);
    }
  })();

  const over = chat.finished.then(() => "over" as const);
  const aborted = new Promise<"aborted">((resolve) => {
    if (run.signal?.aborted) resolve("aborted");
    run.signal?.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  const inputs = ui.input()[Symbol.asyncIterator]();
  let leaving = false;
  while (!leaving) {
    const next = await Promise.race([inputs.next(), over, aborted]);
    if (next === "over" || next === "aborted" || next.done || next.value.type === "end") break;
    const input = parseInput(next.value.text);
    switch (input.type) {
      case "message":
        chat.send(input.text);
        break;
      case "quit":
        leaving = true;
        break;
      case "who":
        if (chat.online) chat.who();
        else status("not connected; /who works once reconnected", "warn");
        break;
      case "help":
        for (const line of [...COMMAND_HELP, LEAVE_KEYS]) status(line, "info");
        break;
      case "unknown":
        status(unknownCommandText(input.command), "error");
        break;
    }
  }

  const unsent = await chat.quit(run.quitTimeoutMs);
  const reason = await chat.finished;
  await printing;
  return reason === "quit" && unsent.length === 0 ? 0 : 1;
}
