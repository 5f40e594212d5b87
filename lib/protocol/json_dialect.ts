/**
 * The JSON protocol (`docs/protocol.md`): a hello object as the first line,
 * then one JSON object per line in both directions. Events carry ids and
 * timestamps, and a sender gets its own message back as its receipt.
 *
 * This module only parses and formats; it does no I/O. Parsing is strict
 * about types and lengths, since every field comes from the network.
 *
 * @module
 */

import type { Dialect, ProtocolError, Request, ResumePoint } from "./dialect.ts";
import { sanitize } from "../util/sanitize.ts";
import type { ChatEvent, HistoryEntry } from "./model.ts";

/** A client's first line in JSON mode. */
export interface Hello {
  user: string;
  /** Resume: only messages with a higher id are replayed. */
  since?: number;
  /** The epoch `since` belongs to; another one gets the history afresh. */
  epoch?: string;
  /** The resume token of the client's last session: takes its name back. */
  token?: string;
  /** The password of a registered name; never logged. */
  password?: string;
}

/** A resume token or an epoch: opaque, URL-safe, bounded. */
const OPAQUE = /^[A-Za-z0-9_-]{1,128}$/;

/** A message `ref`: the client's own label, echoed back in its receipt. */
const REF = /^[A-Za-z0-9_.:-]{1,64}$/;

function badRequest(text: string, ref?: string): Request {
  const error: ProtocolError = { code: "bad_request", text };
  if (ref !== undefined) error.ref = ref;
  return { type: "invalid", error };
}

function parseObject(line: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return "not valid JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "expected a JSON object";
  }
  return value as Record<string, unknown>;
}

/**
 * Parses the hello line. The name is returned as sent; the session applies
 * the same name rules as in text mode.
 *
 * @example
 * ```ts
 * parseHello('{"type":"hello","user":"alice","since":42}'); // { user: "alice", since: 42 }
 * ```
 */
export function parseHello(line: string): Hello | ProtocolError {
  const value = parseObject(line);
  const bad = (text: string): ProtocolError => ({ code: "bad_hello", text, fatal: true });
  if (typeof value === "string") return bad(`hello: ${value}`);
  if (value.type !== "hello") return bad('hello: expected "type":"hello"');
  if (typeof value.user !== "string") return bad('hello: expected "user" to be a string');
  const hello: Hello = { user: value.user };
  if (value.since !== undefined) {
    if (!Number.isSafeInteger(value.since) || (value.since as number) < 0) {
      return bad('hello: expected "since" to be a whole number, 0 or more');
    }
    hello.since = value.since as number;
  }
  for (const field of ["epoch", "token"] as const) {
    const given = value[field];
    if (given === undefined) continue;
    if (typeof given !== "string" || !OPAQUE.test(given)) {
      return bad(`hello: expected "${field}" to be 1-128 characters from A-Z a-z 0-9 _ -`);
    }
    hello[field] = given;
  }
  if (value.password !== undefined) {
    if (typeof value.password !== "string") return bad('hello: expected "password" to be a string');
    hello.password = value.password;
  }
  return hello;
}

/** Parses one request from a joined JSON-mode client. */
export function parseJsonRequest(line: string): Request | null {
  const value = parseObject(line);
  if (typeof value === "string") return badRequest(value);
  switch (value.type) {
    case "message": {
      let ref: string | undefined;
      if (value.ref !== undefined) {
        if (typeof value.ref !== "string" || !REF.test(value.ref)) {
          return badRequest('"ref" must be 1-64 characters from A-Z a-z 0-9 _ . : -');
        }
        ref = value.ref;
      }
      if (typeof value.text !== "string") return badRequest('"text" must be a string', ref);
      const text = sanitize(value.text).trim();
      // A program waits for the receipt of what it sent: say why none comes.
      if (text === "") return badRequest("empty message; it was not sent", ref);
      return ref === undefined ? { type: "message", text } : { type: "message", text, ref };
    }
    case "who":
    case "ping":
    case "quit":
      return { type: value.type };
    case "register":
    case "login":
    case "unregister":
      if (typeof value.password !== "string") return badRequest('"password" must be a string');
      return { type: "account", action: value.type, password: value.password };
    case "passwd":
      if (typeof value.old !== "string" || typeof value.new !== "string") {
        return badRequest('"old" and "new" must be strings');
      }
      return { type: "account", action: "passwd", password: value.old, newPassword: value.new };
    default:
      return badRequest(`unknown request type ${JSON.stringify(value.type ?? null)}`);
  }
}

/** The JSON line of a live event; the replica-internal origin is left out. */
export function eventJson(event: ChatEvent): string {
  if (event.type !== "message") {
    return JSON.stringify({ type: event.type, user: event.user, ts: event.ts });
  }
  const { id, user, text, ts, ref } = event;
  return JSON.stringify(
    ref === undefined
      ? { type: "message", id, user, text, ts }
      : { type: "message", id, user, text, ts, ref },
  );
}

function historyJson(entry: HistoryEntry): string {
  if (entry.type === "legacy") {
    return JSON.stringify({ type: "legacy", text: sanitize(entry.line) });
  }
  return eventJson({ ...entry, origin: "" });
}

/** The JSON dialect: a sender gets its own messages back, as receipts. */
export const jsonDialect: Dialect = {
  parse: parseJsonRequest,
  // Its own join and leave would only tell a client what it already knows.
  event: eventJson,
  skips: (event, own) => own && event.type !== "message",
  history: historyJson,
  historyEnd: (lastId, resume?: ResumePoint) =>
    JSON.stringify({ type: "history_end", id: lastId, ...resume }),
  error: (error) => JSON.stringify({ type: "error", ...error }),
  notice: (code, text, counts) => JSON.stringify({ type: "notice", code, text, ...counts }),
  who: (users) => [JSON.stringify({ type: "who", users })],
  help: () => [],
  pong: () => JSON.stringify({ type: "pong" }),
};
