/**
 * What both wire protocols share: the requests a client can make, the
 * errors (their codes are in `errors.ts`) and notices a server can send, and
 * the {@linkcode Dialect} a session speaks them through. The text dialect lives in `text_dialect.ts`,
 * the JSON one in `json_dialect.ts`.
 *
 * Also here: telling an HTTP request apart from a chat client's first line.
 * This module does no I/O.
 *
 * @module
 */

import type { AccountAction } from "./commands.ts";
import type { ErrorCode } from "./errors.ts";
import type { ChatEvent, HistoryEntry } from "./model.ts";

/** An error to report to a client. */
export interface ProtocolError {
  code: ErrorCode;
  /** For people; text mode sends it as `! text`. */
  text: string;
  /** The client's label of the message it is about (JSON mode). */
  ref?: string;
  /** Whether the server closes the connection after sending it. */
  fatal?: boolean;
}

/**
 * Codes of notices (`* text` in text mode). `history_reset`: the history a
 * client resumes from was lost, so it is replayed afresh. `presence`: joins
 * and leaves in a big room, summarised (see `docs/protocol.md`).
 */
export type NoticeCode =
  | "presence"
  | "shutdown"
  | "history_reset"
  | "registered"
  | "logged_in"
  | "password_changed"
  | "unregistered";

/** What a resumable (JSON) client keeps from `history_end` to come back with. */
export interface ResumePoint {
  /** The id of the history the ids belong to; it changes when the history is lost. */
  epoch: string;
  /** Takes the name back from this session's claim (see `docs/protocol.md`). */
  token?: string;
}

/**
 * An account request: `password` is the current one (the old one for
 * `passwd`, which also carries `newPassword`). Never logged or echoed.
 */
export interface AccountRequest {
  type: "account";
  action: AccountAction;
  password: string;
  newPassword?: string;
}

/** One thing a joined client asked for. */
export type Request =
  | { type: "message"; text: string; ref?: string }
  | { type: "who" }
  | { type: "ping" }
  | { type: "help" }
  | { type: "quit" }
  | AccountRequest
  | { type: "invalid"; error: ProtocolError };

/**
 * How a session speaks to its client: parsing what it sends after the
 * handshake and encoding everything sent back. Every method returns lines
 * without their line break.
 */
export interface Dialect {
  /** The request in one line, or null for a line to ignore (blank). */
  parse(line: string): Request | null;
  /**
   * The line of a live event. It must not depend on the recipient, so that
   * one encoding serves every session of this dialect.
   */
  event(event: ChatEvent): string;
  /** Whether a client does not get `event`; `own` is true for the sender's connection. */
  skips(event: ChatEvent, own: boolean): boolean;
  /** One history entry. */
  history(entry: HistoryEntry): string;
  /**
   * The end of the history; `lastId` is the newest id it covered, `resume`
   * what a client that can resume keeps (dialects that cannot ignore it).
   */
  historyEnd(lastId: number, resume?: ResumePoint): string;
  error(error: ProtocolError): string;
  /** A notice; `counts` are numbers a program reads instead of the text (JSON mode only). */
  notice(code: NoticeCode, text: string, counts?: Readonly<Record<string, number>>): string;
  /** The answer to a `who` request. */
  who(users: readonly string[]): string[];
  /** The answer to a `help` request. */
  help(): readonly string[];
  /** The answer to a `ping` request. */
  pong(): string;
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
