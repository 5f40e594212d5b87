/**
 * What a `ChatConnection` (`connection.ts`) reports to its user, in order:
 * messages and notices from the server, and what happens to the connection
 * and to the messages typed. `render.ts` turns these into lines.
 *
 * Types only: no behaviour here.
 *
 * @module
 */

import type { ServerMessage } from "../protocol/server_events.ts";

/** Something the user should see, in the order it happened. */
export type ClientEvent =
  /** A chat message; `own` when it was sent under this client's name. */
  | { type: "message"; message: ServerMessage; own: boolean }
  /** A history entry written by the old service, as it was stored. */
  | { type: "legacy"; text: string }
  | { type: "join" | "leave"; user: string; ts: number }
  /** The answer to `ChatConnection.who`. */
  | { type: "who"; users: string[] }
  /** A notice from the server (a `shutdown` notice instead becomes the reason of the drop after it). */
  | { type: "notice"; code: string; text: string }
  /** An error from the server that is about no particular message. */
  | { type: "server_error"; code: string; text: string }
  /** A message was typed while disconnected; it is sent after reconnecting. */
  | { type: "queued"; text: string }
  /** A message will not be sent; `reason` says why. */
  | { type: "not_sent"; text: string; reason: string }
  /** The connection was lost; reconnecting for up to `timeoutMs`. */
  | { type: "disconnected"; reason: string; timeoutMs: number }
  /** A reconnection attempt failed; the next one comes after `delayMs`. */
  | { type: "retrying"; attempt: number; error: string; delayMs: number }
  /** The server lost the history this client had seen; it is shown afresh after this. */
  | { type: "history_reset" }
  /** Connected again; `missed` messages arrived while away (already delivered as events). */
  | { type: "reconnected"; missed: number }
  /** No connection could be made again within the reconnect timeout. */
  | { type: "gave_up"; afterMs: number }
  /** The server refused this client for good (a fatal error that retrying cannot fix). */
  | { type: "refused"; code: string; text: string };

/** Why a `ChatConnection` (`connection.ts`) ended. */
export type FinishReason = "quit" | "gave_up" | "refused";
