/**
 * The chat server: accepts TCP connections, runs a session for each, wires
 * the store's subscription to the hub, and shuts down gracefully.
 *
 * It does not choose or open the store (see `server.ts` at the top level)
 * and does not parse configuration.
 *
 * @module
 */

import type { ServerConfig } from "./config.ts";
import { Hub } from "./hub.ts";
import type { Logger } from "./log.ts";
import { FlushScheduler } from "./outbound.ts";
import { errorLine } from "./text_protocol.ts";
import { Session } from "./session.ts";
import type { Store } from "./store.ts";

/** The settings {@linkcode ChatServer} uses. */
export type ChatServerConfig = Pick<
  ServerConfig,
  | "host"
  | "port"
  | "historyReplay"
  | "maxLineBytes"
  | "handshakeTimeoutMs"
  | "queueLimitBytes"
  | "maxConnections"
  | "shutdownGraceMs"
>;

const encoder = new TextEncoder();

/**
 * A running chat listener.
 *
 * @example
 * ```ts
 * const server = await ChatServer.start(config, store, logger);
 * Deno.addSignalListener("SIGTERM", () => server.shutdown());
 * await server.finished;
 * ```
 */
export class ChatServer {
  readonly #config: ChatServerConfig;
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #hub: Hub;
  readonly #scheduler = new FlushScheduler();
  readonly #sessions = new Map<Session, Promise<void>>();
  readonly #replica = crypto.randomUUID();
  #connections = 0;
  #stopping = false;
  #finished!: Promise<void>;

  private constructor(
    config: ChatServerConfig,
    store: Store,
    logger: Logger,
    listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>,
  ) {
    this.#config = config;
    this.#store = store;
    this.#logger = logger;
    this.#listener = listener;
    this.#hub = new Hub(config.queueLimitBytes);
  }

  /** Subscribes to the store, then listens; resolves once clients can connect. */
  static async start(
    config: ChatServerConfig,
    store: Store,
    logger: Logger,
  ): Promise<ChatServer> {
    const listener = Deno.listen({ hostname: config.host, port: config.port });
    const server = new ChatServer(config, store, logger, listener);
    try {
      await store.subscribe((event) => server.#hub.dispatch(event));
    } catch (error) {
      listener.close();
      throw error;
    }
    server.#finished = server.#accept();
    logger.info(`chat server listening on ${config.host}:${listener.addr.port}`);
    return server;
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
    this.#logger.info(`shutting down; ${this.#sessions.size} clients to close`);
    this.#listener.close();
    await Promise.all(
      [...this.#sessions.keys()].map((session) =>
        session.end("shutdown", "server shutting down", this.#config.shutdownGraceMs)
      ),
    );
    await this.#finished;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#admit(conn);
      }
    } catch (error) {
      if (!this.#stopping) this.#logger.error(`accept failed: ${(error as Error).message}`);
    }
    this.#scheduler.flushNow();
    await Promise.all(this.#sessions.values());
  }

  #admit(conn: Deno.TcpConn): void {
    if (this.#sessions.size >= this.#config.maxConnections) {
      this.#logger.warn(`refused ${conn.remoteAddr.hostname}: ${this.#sessions.size} connections`);
      conn.write(encoder.encode(`${errorLine("server full; try again later")}\n`))
        .catch(() => {})
        .finally(() => closeQuietly(conn));
      return;
    }
    conn.setNoDelay(true);
    conn.setKeepAlive(true);
    const session = new Session(conn, {
      hub: this.#hub,
      store: this.#store,
      scheduler: this.#scheduler,
      logger: this.#logger,
      origin: `${this.#replica}/${++this.#connections}`,
      maxLineBytes: this.#config.maxLineBytes,
      handshakeTimeoutMs: this.#config.handshakeTimeoutMs,
      queueLimitBytes: this.#config.queueLimitBytes,
      historyReplay: this.#config.historyReplay,
    });
    this.#sessions.set(
      session,
      session.run().finally(() => this.#sessions.delete(session)),
    );
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // The peer already went away.
  }
}
