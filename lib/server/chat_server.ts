/**
 * The chat server: accepts TCP connections, plain and over TLS (see
 * `tls_listener.ts`), within the global and per-address limits, runs a
 * session for each, wires the store's subscription to the history cache and
 * the hub, keeps its
 * users' names claimed (see `roster.ts`), checks the passwords of registered
 * names (see `account_desk.ts`), gives memory back after a burst of
 * connections (see `memory_reclaimer.ts`), and shuts down gracefully.
 *
 * It does not choose or open the store or the presence registry (see
 * `server.ts` at the top level) and does not parse configuration.
 *
 * @module
 */

import { SERVER_FULL_REFUSAL, TOO_MANY_CONNECTIONS_REFUSAL } from "../protocol/errors.ts";
import { AccountDesk } from "./account_desk.ts";
import type { Accounts } from "../store/accounts.ts";
import type { ChatConn } from "./chat_conn.ts";
import type { ServerConfig } from "./config.ts";
import { Hub } from "./hub.ts";
import { ConnectionLimiter } from "./connection_limiter.ts";
import { parseNetworks } from "../util/cidr.ts";
import type { Logger } from "../ops/log.ts";
import type { ServerMetrics } from "../ops/chat_metrics.ts";
import { FlushScheduler } from "./flush_scheduler.ts";
import type { Presence } from "../store/presence.ts";
import { LoginThrottle } from "./login_throttle.ts";
import { Roster } from "./roster.ts";
import { Session } from "./session.ts";
import type { SessionLimits, SessionOptions } from "./session_options.ts";
import type { Store } from "../store/store.ts";
import { errorLine, textDialect } from "../protocol/text_dialect.ts";
import { TlsListener } from "./tls_listener.ts";
import { HistoryCache } from "./history_cache.ts";
import { MemoryReclaimer, type MemoryReclaimerOptions } from "./memory_reclaimer.ts";

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
  & Partial<Pick<ServerConfig, "tls" | "noticeRoomLimit">>
  & SessionLimits;

/** What {@linkcode ChatServer.start} works with besides its settings. */
export interface ChatServerParts {
  store: Store;
  presence: Presence;
  accounts: Accounts;
  logger: Logger;
  metrics: ServerMetrics;
  /** How to give memory back after a burst of connections; kept without. */
  reclaim?: Omit<MemoryReclaimerOptions, "onCollected">;
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
  #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr> | null = null;
  #tls: TlsListener | null = null;
  readonly #hub: Hub;
  readonly #history: HistoryCache;
  readonly #desk: AccountDesk;
  readonly #roster: Roster;
  readonly #limiter: ConnectionLimiter;
  /** What every session shares. */
  readonly #sessionOptions: SessionOptions;
  /** Each running session by its connection. */
  readonly #sessions = new Map<ChatConn, Session>();
  /** Made once accepting stops; resolved when the last session has ended. */
  #allEnded: PromiseWithResolvers<void> | undefined;
  readonly #replica = crypto.randomUUID();
  #connections = 0;
  readonly #reclaimer: MemoryReclaimer | undefined;
  #stopping = false;
  /** Resolved when a shutdown begins: what the accept loop waits on when there is no plain port. */
  readonly #stopped = Promise.withResolvers<void>();
  #finished!: Promise<void>;

  private constructor(config: ChatServerConfig, parts: ChatServerParts) {
    this.#config = config;
    this.#parts = parts;
    this.#logger = parts.logger;
    this.#hub = new Hub(config.queueLimitBytes, { noticeRoomLimit: config.noticeRoomLimit });
    // Only text-mode joins are answered from it: JSON ones carry a resume point.
    this.#history = new HistoryCache({ maxEntries: config.historyReplay, dialects: [textDialect] });
    this.#roster = new Roster(parts.presence, {
      ttlMs: config.presenceTtlMs,
      logger: parts.logger,
    });
    this.#limiter = new ConnectionLimiter({
      perIp: config.maxConnectionsPerIp,
      trusted: parseNetworks(config.trustedNetworks),
    });
    this.#desk = new AccountDesk({
      accounts: parts.accounts,
      throttle: new LoginThrottle(),
      logger: parts.logger,
    });
    this.#sessionOptions = {
      ...parts,
      desk: this.#desk,
      hub: this.#hub,
      history: this.#history,
      roster: this.#roster,
      scheduler: new FlushScheduler(),
      limits: config,
      onEnd: (conn) => this.#ended(conn),
    };
    parts.metrics.connectedClients.setCollect(() => this.#sessions.size);
    if (parts.reclaim) {
      this.#reclaimer = new MemoryReclaimer({
        ...parts.reclaim,
        onCollected: ({ beforeBytes, afterBytes, ms }) =>
          parts.logger.info("memory given back after a burst of connections", {
            heap_mib_before: Math.round(beforeBytes / 2 ** 20),
            heap_mib_after: Math.round(afterBytes / 2 ** 20),
            ms: Math.round(ms),
          }),
      });
    }
  }

  /**
   * Subscribes to the store and primes the history cache, then listens;
   * resolves once clients can connect. Not listening before: a client that
   * connects during the start-up would wait in the backlog for it, rather
   * than be refused and try again.
   */
  static async start(config: ChatServerConfig, parts: ChatServerParts): Promise<ChatServer> {
    const server = new ChatServer(config, parts);
    try {
      await parts.store.subscribe((event) => {
        server.#reclaimer?.busy();
        server.#history.record(event);
        server.#hub.dispatch(event);
      });
      await server.#primeHistory();
      if (config.port !== null) {
        server.#listener = Deno.listen({ hostname: config.host, port: config.port });
      }
      if (config.tls) {
        server.#tls = await TlsListener.open({
          hostname: config.host,
          ...config.tls,
          logger: parts.logger,
          onConnection: (conn) => server.admit(conn),
        });
      }
    } catch (error) {
      server.#roster.close();
      server.#listener?.close();
      await server.#tls?.close();
      throw error;
    }
    server.#finished = server.#accept();
    if (server.#listener) {
      parts.logger.info("chat server listening on", {
        hostname: config.host,
        port: server.#listener.addr.port,
      });
    }
    if (server.#tls) {
      parts.logger.info("chat server listening with TLS on", {
        hostname: config.host,
        port: server.#tls.port,
      });
    }
    return server;
  }

  /** The plain TCP port clients connect to (the one chosen when started with port 0); 0 when off. */
  get port(): number {
    return this.#listener?.addr.port ?? 0;
  }

  /** The TLS port, when TLS is on. */
  get tlsPort(): number | undefined {
    return this.#tls?.port;
  }

  /**
   * Reads the TLS certificate files again; connections made from now on get
   * the new certificate, open ones are kept.
   *
   * @returns false when TLS is off or the new certificate could not be used (logged).
   */
  reloadTls(): Promise<boolean> {
    return this.#tls?.reload() ?? Promise.resolve(false);
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
    this.#stopped.resolve();
    this.#reclaimer?.close();
    this.#logger.info("shutting down", { clients: this.#sessions.size });
    this.#roster.close();
    this.#listener?.close();
    const tls = this.#tls?.close();
    for (const session of this.#sessions.values()) {
      session.end({ kind: "shutdown", graceMs: this.#config.shutdownGraceMs });
    }
    await tls;
    await this.#finished;
  }

  /** Fills the history cache; without it, joins read the store until it has seen messages. */
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
      for await (const conn of this.#listener ?? []) {
        conn.setNoDelay(true);
        conn.setKeepAlive(true);
        this.admit(conn);
      }
    } catch (error) {
      if (!this.#stopping) {
        this.#logger.error("accept failed", { error: (error as Error).message });
      }
    }
    if (this.#tls && !this.#stopping) await this.#stopped.promise;
    this.#sessionOptions.scheduler.flushNow();
    if (this.#sessions.size > 0) {
      this.#allEnded = Promise.withResolvers();
      await this.#allEnded.promise;
    }
    this.#hub.close();
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
    const origin = `${this.#replica}/${++this.#connections}`;
    const session = new Session(conn, this.#sessionOptions, origin);
    this.#sessions.set(conn, session);
    this.#reclaimer?.churned();
    // Nothing per session waits on the run: `#ended` hears of its end, as idle sessions
    // are most of the server's memory.
    session.run();
  }

  #ended(conn: ChatConn): void {
    this.#sessions.delete(conn);
    this.#reclaimer?.churned();
    this.#limiter.release(conn.remoteAddr.hostname);
    if (this.#sessions.size === 0) this.#allEnded?.resolve();
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
