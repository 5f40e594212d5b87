/**
 * The text protocol spoken with the old Python client and with `nc`.
 *
 * Lines sent: `[user]: text` for messages, `HISTORY_END` after the history,
 * `* ...` for notices and `! ...` for errors. Lines received: a message, or
 * a command of `commands.ts` (`exit`, `/quit`, `/who`, `/help`, `//text`
 * for a leading `/`).
 * This module only parses and formats; it does no I/O.
 *
 * @module
 */

import {
  accountUsage,
  COMMAND_HELP,
  parseInput,
  passwordsOf,
  unknownCommandText,
} from "./commands.ts";
import type { Dialect, ProtocolError, Request } from "./dialect.ts";
import { sanitize } from "../util/sanitize.ts";
import type { ChatEvent, HistoryEntry } from "./model.ts";

/** The line that ends the history and starts live delivery. */
export const HISTORY_END = "HISTORY_END";

/** What `/help` answers: the command table's help, as notices. */
export const HELP: readonly string[] = COMMAND_HELP.map((line) => `* ${line}`);

/** The text line for a live event. */
export function eventLine(event: ChatEvent): string {
  switch (event.type) {
    case "message":
      return `[${event.user}]: ${event.text}`;
    case "join":
      return `* ${event.user} joined`;
    case "leave":
      return `* ${event.user} left`;
  }
}

/**
 * The text line for a history entry. Old-service entries are replayed as
 * they were stored, less any control characters.
 */
export function historyLine(entry: HistoryEntry): string {
  return entry.type === "message" ? `[${entry.user}]: ${entry.text}` : sanitize(entry.line);
}

/** An error line, e.g. `! line too long`. */
export function errorLine(text: string): string {
  return `! ${text}`;
}

/**
 * Parses one line a joined text-mode client sent, with the command table of
 * `commands.ts`.
 *
 * @example
 * ```ts
 * parseTextRequest("hello");  // { type: "message", text: "hello" }
 * parseTextRequest("//etc");  // { type: "message", text: "/etc" }
 * parseTextRequest("exit");   // { type: "quit" }
 * ```
 */
export function parseTextRequest(line: string): Request | null {
  const input = parseInput(sanitize(line));
  switch (input.type) {
    case "empty":
      return null;
    case "unknown":
      return {
        type: "invalid",
        error: { code: "unknown_command", text: unknownCommandText(input.command) },
      };
    case "usage":
      return { type: "invalid", error: { code: "bad_request", text: input.usage } };
    case "account": {
      const [password, newPassword] = input.passwords;
      if (input.passwords.length < passwordsOf(input.action).length) {
        return {
          type: "invalid",
          error: { code: "bad_request", text: accountUsage(input.action) },
        };
      }
      return newPassword === undefined
        ? { type: "account", action: input.action, password }
        : { type: "account", action: input.action, password, newPassword };
    }
    default:
      return input;
  }
}

/** The text dialect: a sender does not get its own messages back. */
export const textDialect: Dialect = {
  parse: parseTextRequest,
  event: eventLine,
  skips: (_event, own) => own,
  history: historyLine,
  historyEnd: () => HISTORY_END,
  error: (error: ProtocolError) => errorLine(error.text),
  notice: (_code, text) => `* ${text}`,
  who: (users) => [`* online (${users.length}): ${users.join(", ")}`],
  help: () => HELP,
  pong: () => "* pong",
};
