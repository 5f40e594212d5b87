/**
 * The chat's domain model: a stored message, a history entry (ours or the
 * old service's plain line), and the events delivered to a room, with the
 * one validator of a message decoded from JSON, which both stores (reading
 * history back) and the client (reading server lines) go through.
 *
 * Shared by the stores, the dialects and the client. No I/O here.
 *
 * @module
 */

/** A stored chat message. */
export interface ChatMessage {
  /** Strictly increasing across the whole history. */
  id: number;
  user: string;
  text: string;
  /** Milliseconds since the Unix epoch, assigned by the server that stored it. */
  ts: number;
  /** The sender's own label for it (JSON mode), so a client can recognise its receipt. */
  ref?: string;
}

/** A history entry: a message, or a plain line written by the old service. */
export type HistoryEntry =
  | ({ type: "message" } & ChatMessage)
  | { type: "legacy"; line: string };

/**
 * Something that happened in the room, as delivered to subscribers.
 * `origin` names the connection it came from, so that a text-mode sender can
 * be spared its own echo.
 */
export type ChatEvent =
  | ({ type: "message"; origin: string } & ChatMessage)
  | { type: "join" | "leave"; user: string; ts: number; origin: string };

/** A join or leave notice: published to every replica, never stored. */
export type Notice = Extract<ChatEvent, { type: "join" | "leave" }>;

/** A message about to be stored: everything but the id. */
export type NewMessage = Omit<Extract<ChatEvent, { type: "message" }>, "id" | "type">;

/** Whether `value` can be a message id: a safe integer, 0 or above. */
export function isMessageId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * The one check of a chat message decoded from JSON, wherever it comes from
 * (a stored entry, a Pub/Sub event, a server line): the message, or `null`
 * when a field is missing or of the wrong type. Fields it does not know are
 * dropped; a `ref` that is not a string is left out rather than refused.
 *
 * @example
 * ```ts
 * toChatMessage({ id: 4, user: "ann", text: "hi", ts: 5, extra: 1 });
 * // { id: 4, user: "ann", text: "hi", ts: 5 }
 * toChatMessage({ id: -1, user: "ann", text: "hi", ts: 5 }); // null
 * ```
 */
export function toChatMessage(value: unknown): ChatMessage | null {
  if (typeof value !== "object" || value === null) return null;
  const { id, user, text, ts, ref } = value as Record<string, unknown>;
  if (
    !isMessageId(id) || typeof user !== "string" || typeof text !== "string" ||
    typeof ts !== "number" || !Number.isFinite(ts)
  ) {
    return null;
  }
  const message: ChatMessage = { id, user, text, ts };
  if (typeof ref === "string") message.ref = ref;
  return message;
}

/**
 * Reads one stored history entry: JSON written by this service, or any other
 * string, which is the old service's `[user]: text` and replayed unchanged.
 *
 * @example
 * ```ts
 * parseEntry('{"id":1,"user":"ann","text":"hi","ts":5}');
 * // { type: "message", id: 1, user: "ann", text: "hi", ts: 5 }
 * parseEntry("[alice]: hi"); // { type: "legacy", line: "[alice]: hi" }
 * ```
 */
export function parseEntry(raw: string): HistoryEntry {
  const message = raw.startsWith("{") ? toChatMessage(parseJson(raw)) : null;
  return message ? { type: "message", ...message } : { type: "legacy", line: raw };
}

/** The value `raw` encodes, or `undefined` when it is not JSON (then it is not ours). */
function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
