/**
 * The client's side of the JSON protocol (`docs/protocol.md`): the requests
 * it sends, and the events it accepts from the server, checked field by
 * field because they come from the network.
 *
 * Unknown event types and malformed lines are not errors: the protocol asks
 * clients to ignore what they do not know, so they parse to `null`. Strings
 * are returned as received; they are sanitised when printed. No I/O here.
 *
 * @module
 */

import { textRefusalCode } from "./errors.ts";
import { type ChatMessage, isMessageId, toChatMessage } from "./model.ts";

/** A chat message, as stored and delivered by the server. */
export type ServerMessage = ChatMessage;

/** One line from the server. */
export type ServerEvent =
  | ({ type: "message" } & ServerMessage)
  | { type: "legacy"; text: string }
  /** `epoch` and `token`: the resume point of a JSON session (`docs/protocol.md`). */
  | { type: "history_end"; id: number; epoch?: string; token?: string }
  | { type: "join" | "leave"; user: string; ts: number }
  | { type: "who"; users: string[] }
  | { type: "pong" }
  | { type: "notice"; code: string; text: string }
  | { type: "error"; code: string; text: string; ref?: string; fatal: boolean };

/** One line to the server. */
export type ClientRequest =
  | {
    type: "hello";
    user: string;
    since?: number;
    epoch?: string;
    token?: string;
    password?: string;
  }
  | { type: "register" | "login" | "unregister"; password: string }
  | { type: "passwd"; old: string; new: string }
  | { type: "message"; text: string; ref?: string }
  | { type: "who" }
  | { type: "ping" }
  | { type: "quit" };

/**
 * The line for `request`, with its line break.
 *
 * @example
 * ```ts
 * encodeRequest({ type: "hello", user: "alice", since: 42 });
 * // '{"type":"hello","user":"alice","since":42}\n'
 * ```
 */
export function encodeRequest(request: ClientRequest): string {
  return `${JSON.stringify(request)}\n`;
}

const isTime = (value: unknown): value is number => Number.isFinite(value);
const isString = (value: unknown): value is string => typeof value === "string";

/**
 * Parses one line from the server, or returns `null` for a line to ignore
 * (not JSON, an unknown type, or fields of the wrong type).
 *
 * @example
 * ```ts
 * parseServerEvent('{"type":"history_end","id":44}'); // { type: "history_end", id: 44 }
 * parseServerEvent('{"type":"from_the_future"}'); // null
 * ```
 */
export function parseServerEvent(line: string): ServerEvent | null {
  // Refusals made before the server knows the protocol come as text lines.
  if (line.startsWith("! ")) return refusal(line.slice(2));
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  switch (value.type) {
    case "message": {
      const message = toChatMessage(value);
      return message && { type: "message", ...message };
    }
    case "legacy":
      return isString(value.text) ? { type: "legacy", text: value.text } : null;
    case "history_end": {
      if (!isMessageId(value.id)) return null;
      const end: ServerEvent = { type: "history_end", id: value.id };
      if (isString(value.epoch)) end.epoch = value.epoch;
      if (isString(value.token)) end.token = value.token;
      return end;
    }
    case "join":
    case "leave":
      return isString(value.user) && isTime(value.ts)
        ? { type: value.type, user: value.user, ts: value.ts }
        : null;
    case "who":
      return Array.isArray(value.users) && value.users.every(isString)
        ? { type: "who", users: value.users }
        : null;
    case "pong":
      return { type: "pong" };
    case "notice":
      return isString(value.code) && isString(value.text)
        ? { type: "notice", code: value.code, text: value.text }
        : null;
    case "error": {
      const { code, text, ref, fatal } = value;
      if (!isString(code) || !isString(text)) return null;
      const error: ServerEvent = { type: "error", code, text, fatal: fatal === true };
      if (isString(ref)) error.ref = ref;
      return error;
    }
    default:
      return null;
  }
}

/** A text-mode error line as the fatal error it is. */
function refusal(text: string): ServerEvent {
  return { type: "error", code: textRefusalCode(text) ?? "refused", text, fatal: true };
}
