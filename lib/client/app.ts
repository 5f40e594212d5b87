/**
 * The chat client's main loop, independent of how it talks to the user:
 * connects, shows every event through a {@linkcode ClientUi}, and turns each
 * typed line into a message or a command until the user leaves, the server
 * refuses the client, or reconnecting gives up. Passwords (a registered
 * name's at joining, those the account commands left out) are asked for
 * through {@linkcode ClientUi.askSecret}.
 *
 * The user interfaces are `terminal_ui.ts` (raw mode with an input line) and
 * `plain_ui.ts` (lines on stdin and stdout); the connection is
 * `connection.ts`.
 *
 * @module
 */

import { type ClientOptions, LEAVE_KEYS } from "./args.ts";
import {
  type AccountAction,
  COMMAND_HELP,
  parseInput,
  passwordsOf,
  unknownCommandText,
} from "../protocol/commands.ts";
import { ChatConnection, type ChatConnectionOptions } from "./connection.ts";
import { Credentials } from "./credentials.ts";
import { RefusedError } from "./handshake.ts";
import { connector } from "./transport.ts";
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
  /**
   * Shows `prompt` and makes the next line typed a secret (a password): not
   * echoed and not kept in the line history.
   */
  askSecret(prompt: string): void;
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
  /** PEM certificates of the CAs to trust for TLS (read from `--ca FILE`). */
  caCerts?: string[];
}

/** How often a registered name's password may be asked for at joining. */
const PASSWORD_TRIES = 3;

/** What the user is asked for a password named so in the command table. */
const PROMPTS: Record<string, string> = {
  PASSWORD: "password: ",
  OLD: "old password: ",
  NEW: "new password: ",
};

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

  const inputs = ui.input()[Symbol.asyncIterator]();
  /** The next line typed as a secret, or null when input ended first. */
  const secret = async (prompt: string): Promise<string | null> => {
    ui.askSecret(prompt);
    const next = await inputs.next();
    return next.done || next.value.type === "end" ? null : next.value.text.trim();
  };

  const credentials = new Credentials();
  const connect = connector({ tls: options.tls, caCerts: run.caCerts });
  let chat: ChatConnection | null = null;
  for (let tries = 0; !chat; tries++) {
    try {
      chat = await ChatConnection.open({
        ...options,
        connect,
        password: () => credentials.password,
        ...run.connection,
      });
    } catch (error) {
      const code = error instanceof RefusedError ? error.code : "";
      const asked = code === "auth_required" || code === "auth_failed";
      status((error as Error).message, asked && tries < PASSWORD_TRIES ? "warn" : "error");
      if (!asked || tries >= PASSWORD_TRIES) return 1;
      const password = await secret(`password for ${user}: `);
      if (password === null) return 1;
      credentials.login(password);
    }
  }
  const joined = chat;
  status(`connected to ${host}:${port} as ${user}; /help lists the commands`, "info");
  ui.setOnline(true);

  const printing = (async () => {
    for await (const event of joined.events) {
      if (event.type === "notice") credentials.noticed(event.code);
      ui.show(renderEvent(event, ui));
      ui.setOnline(joined.online);
    }
  })();

  /** Sends an account request, asking for the passwords not typed with it. */
  const account = async (action: AccountAction, typed: string[]) => {
    const passwords = [...typed];
    for (const name of passwordsOf(action).slice(typed.length)) {
      const password = await secret(PROMPTS[name]);
      if (!password) return status(`/${action} cancelled`, "warn");
      passwords.push(password);
    }
    if (!joined.online) return status(`not connected; /${action} works once reconnected`, "warn");
    joined.request(credentials.request(action, passwords));
  };

  const over = chat.finished.then(() => "over" as const);
  const aborted = new Promise<"aborted">((resolve) => {
    if (run.signal?.aborted) resolve("aborted");
    run.signal?.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
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
        if (chat.online) chat.request({ type: "who" });
        else status("not connected; /who works once reconnected", "warn");
        break;
      case "account":
        await account(input.action, input.passwords);
        break;
      case "usage":
        status(input.usage, "error");
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
