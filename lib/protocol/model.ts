/**
 * The chat's domain model: a stored message, a history entry (ours or the
 * old service's plain line), and the events delivered to a room, with the
 * one function that reads a stored entry back.
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

/**
 * Reads one stored history entry: JSON written by this service, or any other
 * string, which is the old service's `[user]: text` and replayed unchanged.
 */
export function parseEntry(raw: string): HistoryEntry {
  if (raw.startsWith("{")) {
    try {
      const value = JSON.parse(raw);
      if (
        Number.isSafeInteger(value?.id) && typeof value.user === "string" &&
        typeof value.text === "string" && Number.isFinite(value.ts)
      ) {
        const entry: HistoryEntry = {
          type: "message",
          id: value.id,
          user: value.user,
          text: value.text,
          ts: value.ts,
        };
        if (typeof value.ref === "string") entry.ref = value.ref;
        return entry;
      }
    } catch {
      // Not ours after all: replay it as the plain line it is.
    }
  }
  return { type: "legacy", line: raw };
}
