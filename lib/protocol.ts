/**
 * The text protocol spoken with the old Python client and with `nc`: how
 * events and history entries become lines, and how a first line is told
 * apart from a user name.
 *
 * Lines sent: `[user]: text` for messages, `HISTORY_END` after the history,
 * `* ...` for notices and `! ...` for errors. This module only formats and
 * classifies; it does no I/O.
 *
 * @module
 */

import type { ChatEvent, HistoryEntry } from "./store.ts";
import { sanitize } from "./sanitize.ts";

/** The line that ends the history and starts live delivery. */
export const HISTORY_END = "HISTORY_END";

/** Commands a client may send instead of a message. */
export const HELP: readonly string[] = [
  "* commands:",
  "*   /help         this list",
  "*   /quit, exit   leave the chat",
  "* anything else is sent to everyone",
];

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

/** A notice line, e.g. `* server shutting down`. */
export function noticeLine(text: string): string {
  return `* ${text}`;
}

/** An error line, e.g. `! line too long`. */
export function errorLine(text: string): string {
  return `! ${text}`;
}

const HTTP_REQUEST = /^[A-Z]{3,10} \S+ HTTP\/\d(\.\d)?$/;

/** Whether a first line is an HTTP request line rather than a user name. */
export function isHttpRequest(line: string): boolean {
  return HTTP_REQUEST.test(line);
}

/** A short HTTP answer for browsers and `wget` that reached the chat port. */
export const HTTP_RESPONSE: string = [
  "HTTP/1.1 400 Bad Request",
  "Content-Type: text/plain; charset=utf-8",
  "Connection: close",
  "",
  "This is a chat server, not a web server. Connect with: chat-client HOST PORT NAME",
  "",
].join("\r\n");
