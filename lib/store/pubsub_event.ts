/**
 * What replicas tell each other over Pub/Sub: each message as it was stored
 * (with the connection it came from) and each join or leave notice, as one
 * JSON object. Read back here, field by field, because anything can be
 * published on a channel; the append script in `history_scripts.ts` and
 * `redis_store.ts` write them.
 *
 * @module
 */

import { type ChatEvent, toChatMessage } from "../protocol/model.ts";

/** A Pub/Sub event, or `null` when it is not one of ours. */
export function parseEvent(raw: string): ChatEvent | null {
  let value;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value?.origin !== "string") return null;
  const origin: string = value.origin;
  if (value.type === "message") {
    const message = toChatMessage(value);
    return message && { type: "message", origin, ...message };
  }
  if (
    (value.type === "join" || value.type === "leave") && typeof value.user === "string" &&
    typeof value.ts === "number" && Number.isFinite(value.ts)
  ) {
    return { type: value.type, user: value.user, ts: value.ts, origin };
  }
  return null;
}
