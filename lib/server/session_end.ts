/**
 * Why a session ended, and what each reason means: the last words the client
 * is sent, the metric counted and the log entry written. The session ends
 * through one path (see `session.ts`) and asks this table what to do.
 *
 * It does not send, leave the hub or release the name: the session does, in
 * the same order for every reason.
 *
 * @module
 */

import { type Dialect, HTTP_RESPONSE, type ProtocolError } from "../protocol/dialect.ts";
import type { Logger } from "../ops/log.ts";
import type { ServerMetrics } from "../ops/chat_metrics.ts";
import { StoreUnavailableError } from "../store/store.ts";
import { SlowJoinError } from "./hub.ts";

/** Why a session ended. The first reason given wins. */
export type SessionEnd =
  /** The client said `exit` or `/quit`. */
  | { kind: "quit" }
  /** The connection closed or failed; `error` says how, when it was not a plain close. */
  | { kind: "peer_gone"; error?: string }
  /** Turned away in the handshake (bad name, bad hello, timeout, name taken...). */
  | { kind: "refused"; error: ProtocolError }
  /** Not a chat client: an HTTP request, answered with a 400. */
  | { kind: "http_probe" }
  /** The store failed while the client was joining. */
  | { kind: "store_unavailable"; error: string }
  /** Kept sending over the rate limit after being told to slow down. */
  | { kind: "flooding" }
  /**
   * Did not read its output fast enough; `reason` says which limit it passed.
   * `joined` is false while the history was still being sent.
   */
  | { kind: "slow_consumer"; reason: string; joined: boolean }
  /** The name's claim was lost to another connection while this replica was out of touch. */
  | { kind: "name_lost" }
  /** The server is shutting down; the notice may take up to `graceMs` to be read. */
  | { kind: "shutdown"; graceMs: number };

/** The last output of an ending session. */
export interface LastWords {
  /** The bytes to write, after what is queued unless `discardQueued`. */
  bytes: Uint8Array;
  /** Drop the unsent backlog first, so a reader that fell behind gets the reason at once. */
  discardQueued: boolean;
  /** How long writing them may take. */
  timeoutMs: number;
}

/** Who the log entry is about. */
export interface SessionFields {
  remote: string;
  /** The user, once the name was accepted. */
  user?: string;
}

const encoder = new TextEncoder();

function fatal(dialect: Dialect, error: ProtocolError): string {
  return `${dialect.error({ ...error, fatal: true })}\n`;
}

/**
 * The client's last output for `end`, or null when nothing is said (it left,
 * or it is gone). `lingerMs` bounds the write except for a shutdown, which
 * has its own grace period.
 */
export function lastWords(end: SessionEnd, dialect: Dialect, lingerMs: number): LastWords | null {
  const words = (text: string, discardQueued = false, timeoutMs = lingerMs): LastWords => ({
    bytes: encoder.encode(text),
    discardQueued,
    timeoutMs,
  });
  switch (end.kind) {
    case "quit":
    case "peer_gone":
      return null;
    case "refused":
      return words(fatal(dialect, end.error));
    case "http_probe":
      return words(HTTP_RESPONSE);
    case "store_unavailable":
      return words(fatal(dialect, {
        code: "store_unavailable",
        text: "the chat store is unavailable; try again shortly",
      }));
    case "flooding":
      return words(fatal(dialect, {
        code: "flooding",
        text: "flooding: kept sending faster than the rate limit; disconnected",
      }));
    case "slow_consumer":
      // Mid-history the client is still in its handshake, where a fatal error
      // would tell it not to reconnect; it just loses the connection.
      if (!end.joined) return null;
      return words(
        fatal(dialect, { code: "slow_consumer", text: `too slow: ${end.reason}; disconnected` }),
        true,
      );
    case "name_lost":
      return words(
        fatal(dialect, {
          code: "name_taken",
          text: "your name was taken by someone else while this server was out of touch",
        }),
        true,
      );
    case "shutdown":
      return words(`${dialect.notice("shutdown", "server shutting down")}\n`, false, end.graceMs);
  }
}

/** Counts `end` in its metric (if it has one) and logs it. */
export function recordEnd(
  end: SessionEnd,
  fields: SessionFields,
  logger: Logger,
  metrics: ServerMetrics,
): void {
  switch (end.kind) {
    case "quit":
    case "shutdown":
      // The "left" entry that follows says enough.
      return;
    case "peer_gone":
      if (end.error !== undefined) {
        logger.debug("connection ended", { ...fields, error: end.error });
      }
      return;
    case "refused": {
      const { code, text } = end.error;
      const { refused } = metrics;
      if (code in refused) refused[code as keyof typeof refused].inc();
      logger.info("refused", { ...fields, code, reason: text });
      return;
    }
    case "http_probe":
      metrics.refused.http_probe.inc();
      logger.debug("answered an HTTP request and closed", { ...fields, code: "http_probe" });
      return;
    case "store_unavailable":
      metrics.refused.store_unavailable.inc();
      logger.warn("turned away", { ...fields, code: "store_unavailable", error: end.error });
      return;
    case "flooding":
      metrics.floodersDisconnected.inc();
      logger.warn("disconnected", { ...fields, code: "flooding" });
      return;
    case "slow_consumer":
      metrics.slowConsumersDisconnected.inc();
      logger.warn("disconnected", { ...fields, code: "slow_consumer", reason: end.reason });
      return;
    case "name_lost":
      logger.warn("disconnected", {
        ...fields,
        code: "name_taken",
        reason: "the name was taken elsewhere",
      });
      return;
  }
}

/** The client does not read its history fast enough to stay connected. */
export class SlowClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SlowClientError";
  }
}

/** How a session ends when serving it threw `error`. */
export function endFor(error: Error): SessionEnd {
  if (error instanceof StoreUnavailableError) {
    return { kind: "store_unavailable", error: error.message };
  }
  if (error instanceof SlowJoinError || error instanceof SlowClientError) {
    return { kind: "slow_consumer", reason: error.message, joined: false };
  }
  return { kind: "peer_gone", error: error.message };
}
