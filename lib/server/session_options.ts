/**
 * What a session needs from the server: the parts it works with and the
 * per-connection limits. The server makes one {@linkcode SessionOptions} and
 * every session shares it (idle connections are most of the server's memory,
 * so nothing per server is copied into each).
 *
 * @module
 */

import type { AccountDesk } from "./account_desk.ts";
import type { ChatConn } from "./chat_conn.ts";
import type { HistoryCache } from "./history_cache.ts";
import type { Hub } from "./hub.ts";
import type { Logger } from "../ops/log.ts";
import type { ServerMetrics } from "../ops/chat_metrics.ts";
import type { FlushScheduler } from "./flush_scheduler.ts";
import type { Roster } from "./roster.ts";
import type { Store } from "../store/store.ts";

/** What a session needs from the server: one object, shared by all its sessions. */
export interface SessionOptions {
  hub: Hub;
  /** The newest history, ready to send; joins it does not cover read `store`. */
  history: HistoryCache;
  store: Store;
  roster: Roster;
  /** Passwords and account requests; a registered name must pass `sign_in.ts` before its claim. */
  desk: AccountDesk;
  scheduler: FlushScheduler;
  logger: Logger;
  metrics: ServerMetrics;
  limits: SessionLimits;
  /** Called once the session of `conn` has ended and closed it. */
  onEnd(conn: ChatConn): void;
}

/** The per-connection limits (see `config.ts` for their meaning). */
export interface SessionLimits {
  maxLineBytes: number;
  handshakeTimeoutMs: number;
  queueLimitBytes: number;
  queueSoftLimitBytes: number;
  queueSoftMs: number;
  historyReplay: number;
  historyLimit: number;
  rateLimit: number;
  rateBurst: number;
}
