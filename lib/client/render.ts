/**
 * How the client shows what happens: one line of text per event, as
 * `HH:MM user: text` for messages, with a stable colour per user, the own
 * messages in bold, notices dimmed and problems in red or yellow.
 *
 * With `color: false` (not a terminal, `NO_COLOR`, `TERM=dumb`) the lines
 * hold no escape sequence at all. Every string that came from the network is
 * sanitised here, right before it is shown, whatever the server did.
 *
 * It returns strings; writing them is the caller's job. Lines are either
 * chat (messages, joins, `who`) or status (the client's own reports and
 * errors), so that plain mode can print them to stdout and stderr.
 *
 * @module
 */

import type { ClientEvent } from "./client_event.ts";
import { sanitize } from "../util/sanitize.ts";

/** A line to show. */
export interface OutputLine {
  text: string;
  /** `chat`: what happened in the room; `status`: the client's reports and errors. */
  channel: "chat" | "status";
}

/** How to style lines. */
export interface RenderOptions {
  /** Whether to use ANSI colours and styles. */
  color: boolean;
}

/**
 * Whether to colour output: only on a terminal, and not when `NO_COLOR` is
 * set to anything but the empty string (https://no-color.org) or `TERM` is
 * `dumb`.
 *
 * @example
 * ```ts
 * useColor(true, (name) => Deno.env.get(name));
 * ```
 */
export function useColor(terminal: boolean, env: (name: string) => string | undefined): boolean {
  return terminal && !env("NO_COLOR") && env("TERM") !== "dumb";
}

/** Kinds of status line. */
export type StatusLevel = "info" | "warn" | "error";

// Red is kept for errors, so no user name looks like one.
const PALETTE: readonly number[] = [32, 33, 34, 35, 36, 92, 93, 94, 95, 96];

const RESET = "\x1b[0m";
const STYLE = { bold: "1", dim: "2", red: "31", yellow: "33" } as const;

const encoder = new TextEncoder();

function paint(text: string, codes: string, options: RenderOptions): string {
  return options.color ? `\x1b[${codes}m${text}${RESET}` : text;
}

/**
 * The ANSI colour code for a user name: the same name always gets the same
 * colour, from a palette without red.
 *
 * @example
 * ```ts
 * userColor("alice") === userColor("alice"); // true
 * ```
 */
export function userColor(name: string): number {
  // FNV-1a over the UTF-8 bytes: cheap, and well spread for short names.
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(name)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

/**
 * `HH:MM` in local time.
 *
 * @example
 * ```ts
 * formatTime(new Date(2025, 0, 1, 9, 5).getTime()); // "09:05"
 * ```
 */
export function formatTime(ts: number): string {
  const date = new Date(ts);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}`;
}

/** A status line: the client's own report, styled by level. */
export function renderStatus(text: string, level: StatusLevel, options: RenderOptions): OutputLine {
  const prefix = level === "info" ? "*" : "!";
  const style = level === "info" ? STYLE.dim : level === "warn" ? STYLE.yellow : STYLE.red;
  return { text: paint(`${prefix} ${sanitize(text)}`, style, options), channel: "status" };
}

function quote(text: string): string {
  const clean = sanitize(text);
  return `"${clean.length > 60 ? `${clean.slice(0, 57)}...` : clean}"`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * The line for one event.
 *
 * @example
 * ```ts
 * renderEvent(
 *   { type: "message", own: false, message: { id: 1, user: "bob", text: "hi", ts: Date.now() } },
 *   { color: false },
 * ); // { text: "12:34 bob: hi", channel: "chat" }
 * ```
 */
export function renderEvent(event: ClientEvent, options: RenderOptions): OutputLine {
  const chat = (text: string): OutputLine => ({ text, channel: "chat" });
  switch (event.type) {
    case "message": {
      const { user, text, ts } = event.message;
      const name = paint(sanitize(user), event.own ? STYLE.bold : String(userColor(user)), options);
      return chat(`${paint(formatTime(ts), STYLE.dim, options)} ${name}: ${sanitize(text)}`);
    }
    case "legacy":
      return chat(sanitize(event.text));
    case "join":
    case "leave": {
      const verb = event.type === "join" ? "joined" : "left";
      return chat(
        paint(`${formatTime(event.ts)} * ${sanitize(event.user)} ${verb}`, STYLE.dim, options),
      );
    }
    case "who":
      return chat(
        paint(
          `* online (${event.users.length}): ${event.users.map(sanitize).join(", ")}`,
          STYLE.dim,
          options,
        ),
      );
    case "notice":
      return renderStatus(event.text, "warn", options);
    case "server_error":
      return renderStatus(event.text, "error", options);
    case "queued":
      return renderStatus(
        `not connected: ${quote(event.text)} will be sent after reconnecting`,
        "warn",
        options,
      );
    case "not_sent":
      return renderStatus(`not sent: ${quote(event.text)} (${event.reason})`, "error", options);
    case "disconnected":
      return event.timeoutMs > 0
        ? renderStatus(
          `${event.reason}; reconnecting (giving up after ${seconds(event.timeoutMs)})`,
          "warn",
          options,
        )
        : renderStatus(event.reason, "error", options);
    case "retrying":
      return renderStatus(
        `reconnect attempt ${event.attempt} failed: ${event.error}; next try in ${
          seconds(event.delayMs)
        }`,
        "info",
        options,
      );
    case "history_reset":
      return renderStatus(
        "history was reset on the server (it lost the messages shown so far); showing it afresh",
        "warn",
        options,
      );
    case "reconnected":
      return renderStatus(
        event.missed === 0
          ? "reconnected"
          : `reconnected; ${event.missed} missed message${event.missed === 1 ? "" : "s"} above`,
        "info",
        options,
      );
    case "gave_up":
      return renderStatus(
        event.afterMs > 0
          ? `could not reconnect within ${seconds(event.afterMs)}; giving up`
          : "not reconnecting (--reconnect-timeout 0)",
        "error",
        options,
      );
    case "refused":
      return renderStatus(`the server refused the connection: ${event.text}`, "error", options);
  }
}
