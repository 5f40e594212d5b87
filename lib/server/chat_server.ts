/**
 * The chat server: accepts TCP connections (within the global and per-address
 * limits), runs a session for each, wires the store's subscription to the
 * history cache and the hub, keeps its users' names claimed (see `roster.ts`), and shuts down
 * gracefully.
 *
 * It does not choose or open the store or the presence registry (see
 * `server.ts` at the top level) and does not parse configuration.
 *
 * @module
 */

import { SERVER_FULL_REFUSAL, TOO_MANY_CONNECTIONS_REFUSAL } from "../protocol/errors.ts";
import type { ChatConn } from "./chat_conn.ts";
import type { ServerConfig } from "./config.ts";
import { HistoryCache } from "./history_cache.ts";
import { Hub } from "./hub.ts";
import { ConnectionLimiter } from "./connection_limiter.ts";
import { parseNetworks } from "../util/cidr.ts";
import type { Logger } from "../ops/log.ts";
import type { ServerMetrics } from "../ops/chat_metrics.ts";
import { FlushScheduler } from "./outbound_queue.ts";
import type { Presence } from "../store/presence.ts";
import { Roster } from "./roster.ts";
import { Session, type SessionLimits } from "./session.ts";
import type { Store } from "../store/store.ts";
import { errorLine, textDialect } from "../protocol/text_dialect.ts";
import { jsonDialect } from "../protocol/json_dialect.ts";

/** The settings {@linkcode ChatServer} uses. */
export type ChatServerConfig =
  & Pick<
    ServerConfig,
    | "host"
    | "port"
    | "maxConnections"
    | "maxConnectionsPerIp"
    | "trustedNetworks"
    | "presenceTtlMs"
    | "shutdownGraceMs"
  >
  & SessionLimits;

/** What {@linkcode ChatServer.start} works with besides its settings. */
export interface ChatServerParts {
  store: Store;
  presence: Presence;
  logger: Logger;
  metrics: ServerMetrics;
}

const encoder = new TextEncoder();

/**
 * A running chat listener.
 *
 * @example
 * ```ts
 * const server = await ChatServer.start(config, { store, presence, logger, metrics });
 * Deno.addSignalListener("SIGTERM", () => server.shutdown());
 * await server.finished;
 * ```
 */
export class ChatServer {
  readonly #config: ChatServerConfig;
  readonly #parts: ChatServerParts;
  readonly #logger: Logger;
  #listener!: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #hub: Hub;
  readonly #history: HistoryCache;
  readonly #roster: Roster;
  readonly #limiter: ConnectionLimiter;
  readonly #scheduler = new FlushScheduler();
  readonly #sessions = new Map<Session, Promise<void>>();
  readonly #replica = crypto.randomUUID();
  #connections = 0;
  #stopping = false;
  #finished!: Promise<void>;

  private constructor(config: ChatServerConfig, parts: ChatServerParts) {
    this.#config = config;
    this.#parts = parts;
    this.#logger = parts.logger;
    this.#hub = new Hub(config.queueLimitBytes);
    this.#history = new HistoryCache({
      maxEntries: config.historyReplay,
      dialects: [textDialect, jsonDialect],
    });
    this.#roster = new Roster(parts.presence, {
      ttlMs: config.presenceTtlMs,
      logger: parts.logger,
    });
    this.#limiter = new ConnectionLimiter({
      perIp: config.maxConnectionsPerIp,
      trusted: parseNetworks(config.trustedNetworks),
    });
    parts.metrics.connectedClients.setCollect(() => this.#sessions.size);
  }

  /**
   * Subscribes to the store, fills the history cache, then listens; resolves
   * once clients can connect. Listening last means no client waits in the
   * accept queue while the server is still getting ready.
   */
  static async start(config: ChatServerConfig, parts: ChatServerParts): Promise<ChatServer> {
    const server = new ChatServer(config, parts);
    let listener;
    try {
      await parts.store.subscribe((event) => {
        server.#history.record(event);
        server.#hub.dispatch(event);
      });
      await server.#primeHistory();
      listener = Deno.listen({ hostname: config.host, port: config.port });
    } catch (error) {
      server.#roster.close();
      throw error;
    }
    server.#listener = listener;
    server.#finished = server.#accept();
    parts.logger.info("chat server listening on", {
      hostname: config.host,
      port: listener.addr.port,
    });
    return server;
  }

  /** The TCP port clients connect to (the one chosen when started with port 0). */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Whether a shutdown has begun. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Resolves when the server has shut down and every session has ended. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /**
   * Stops accepting, tells every client the server is shutting down, gives
   * their output up to the grace period to drain, and closes them.
   */
  async shutdown(): Promise<void> {
    if (this.#stopping) return this.#finished;
    this.#stopping = true;
    this.#logger.info("shutting down", { clients: this.#sessions.size });
    this.#roster.close();
    this.#listener.close();
    for (const session of this.#sessions.keys()) {
      session.end({ kind: "shutdown", graceMs: this.#config.shutdownGraceMs });
    }
    await this.#finished;
  }

  /** Fills the history cache; without it joins read the store, so a failure only costs speed. */
  async #primeHistory(): Promise<void> {
    try {
      this.#history.prime(await this.#parts.store.history(this.#config.historyReplay));
    } catch (error) {
      this.#history.primeFailed();
      this.#logger.warn("history cache not primed", { error: (error as Error).message });
    }
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        conn.setNoDelay(true);
        conn.setKeepAlive(true);
        this.admit(conn);
      }
    } catch (error) {
      if (!this.#stopping) {
        this.#logger.error("accept failed", { error: (error as Error).message });
      }
    }
    this.#scheduler.flushNow();
    await Promise.all(this.#sessions.values());
  }

  /**
   * Runs a session for `conn` within the global and per-address limits, or
   * turns it away. The TCP listener calls it for each connection; other
   * transports hand theirs in here too.
   */
  admit(conn: ChatConn): void {
    const { metrics } = this.#parts;
    const address = conn.remoteAddr.hostname;
    const remote = `${address}:${conn.remoteAddr.port}`;
    if (this.#sessions.size >= this.#config.maxConnections) {
      this.#logger.warn("refused", {
        remote,
        code: "server_full",
        connections: this.#sessions.size,
      });
      metrics.refused.server_full.inc();
      return refuse(conn, SERVER_FULL_REFUSAL);
    }
    if (!this.#limiter.acquire(address)) {
      this.#logger.warn("refused", {
        remote,
        code: "too_many_connections",
        connections: this.#limiter.count(address),
      });
      metrics.refused.per_ip.inc();
      return refuse(conn, TOO_MANY_CONNECTIONS_REFUSAL);
    }
    metrics.connectionsAccepted.inc();
    const session = new Session(conn, {
      ...this.#parts,
      hub: this.#hub,
      history: this.#history,
      roster: this.#roster,
      scheduler: this.#scheduler,
      origin: `${this.#replica}/${++this.#connections}`,
      limits: this.#config,
    });
    this.#sessions.set(
      session,
      session.run().finally(() => {
        this.#sessions.delete(session);
        this.#limiter.release(address);
      }),
    );
  }
}

/**
 * Turns a connection away before its first line: the protocol it will speak
 * is not known yet, so the reason goes as a text error line.
 */
function refuse(conn: ChatConn, reason: string): void {
  conn.write(encoder.encode(`${errorLine(reason)}\n`))
    .catch(() => {})
    .finally(() => {
      try {
        conn.close();
      } catch {
        // The peer already went away.
      }
    });
}
