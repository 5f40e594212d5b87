/**
 * A real {@linkcode ChatServer} inside the test process, on port 0, with its
 * parts passed in: the SQLite store in a temporary directory, in-memory
 * presence, a logger writing into an array and fresh metrics. And a line
 * client over a real TCP connection to talk to it.
 *
 * Both are `AsyncDisposable`, so `await using` closes everything the test
 * sanitizers check.
 */

import {
  ChatServer,
  type ChatServerConfig,
  type ChatServerParts,
} from "../../lib/server/chat_server.ts";
import { createLogger } from "../../lib/ops/log.ts";
import { ServerMetrics } from "../../lib/ops/chat_metrics.ts";
import { LocalPresence } from "../../lib/store/local_presence.ts";
import { SqliteStore } from "../../lib/store/sqlite_store.ts";
import { SqliteAccounts } from "../../lib/store/sqlite_accounts.ts";
import { type Line, readLines } from "../../lib/util/line_reader.ts";
import { EXPIRED, within } from "../../lib/util/deadline.ts";

/** Settings a test usually leaves alone; each may be overridden. */
export const TEST_CONFIG: ChatServerConfig = {
  host: "127.0.0.1",
  port: 0,
  maxConnections: 100,
  maxConnectionsPerIp: 100,
  trustedNetworks: "none",
  presenceTtlMs: 30_000,
  shutdownGraceMs: 2_000,
  maxLineBytes: 4096,
  handshakeTimeoutMs: 5_000,
  queueLimitBytes: 1 << 20,
  queueSoftLimitBytes: 1 << 20,
  queueSoftMs: 10_000,
  historyReplay: 100,
  historyLimit: 1000,
  rateLimit: 1000,
  rateBurst: 1000,
};

/** A chat server running in this process. */
export class InProcessServer implements AsyncDisposable {
  readonly server: ChatServer;
  readonly metrics: ServerMetrics;
  /** Every log line written so far, as text. */
  readonly logs: string[];
  readonly #store: SqliteStore;
  readonly #presence: LocalPresence;
  readonly #accounts: SqliteAccounts;
  readonly #dataDir: string;

  private constructor(
    server: ChatServer,
    parts: {
      metrics: ServerMetrics;
      logs: string[];
      store: SqliteStore;
      presence: LocalPresence;
      accounts: SqliteAccounts;
    },
    dataDir: string,
  ) {
    this.server = server;
    this.metrics = parts.metrics;
    this.logs = parts.logs;
    this.#store = parts.store;
    this.#presence = parts.presence;
    this.#accounts = parts.accounts;
    this.#dataDir = dataDir;
  }

  /** Starts a server with `TEST_CONFIG` and `overrides`, and the optional parts given. */
  static async start(
    overrides: Partial<ChatServerConfig> = {},
    optional: Pick<ChatServerParts, "reclaim"> = {},
  ): Promise<InProcessServer> {
    const dataDir = await Deno.makeTempDir({ prefix: "chat-in-process-" });
    const logs: string[] = [];
    const logger = createLogger("debug", (line) => logs.push(line));
    const metrics = new ServerMetrics();
    const store = await SqliteStore.open({ dataDir, historyLimit: 1000, metrics });
    const presence = new LocalPresence();
    const config = { ...TEST_CONFIG, ...overrides };
    const accounts = await SqliteAccounts.open({ dataDir });
    const server = await ChatServer.start(config, {
      store,
      presence,
      accounts,
      logger,
      metrics,
      ...optional,
    });
    return new InProcessServer(server, { metrics, logs, store, presence, accounts }, dataDir);
  }

  /** The port clients connect to. */
  get port(): number {
    return this.server.port;
  }

  /** Opens a connection to the server. */
  async connect(): Promise<LineClient> {
    return new LineClient(await Deno.connect({ hostname: "127.0.0.1", port: this.port }));
  }

  /** Connects and joins as `user` in the text protocol; returns the client and its history. */
  async joinText(user: string): Promise<{ client: LineClient; history: string[] }> {
    const client = await this.connect();
    await client.send(user);
    return { client, history: await client.readUntil((line) => line === "HISTORY_END") };
  }

  /** Connects and joins as `user` in the JSON protocol; returns the client and its history. */
  async joinJson(user: string): Promise<{ client: LineClient; history: string[] }> {
    const client = await this.connect();
    await client.send(JSON.stringify({ type: "hello", user }));
    const history = await client.readUntil((line) => JSON.parse(line).type === "history_end");
    return { client, history };
  }

  /** Shuts the server down and deletes its data. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.server.shutdown();
    await Promise.all([this.#store.close(), this.#presence.close(), this.#accounts.close()]);
    await Deno.remove(this.#dataDir, { recursive: true });
  }
}

const encoder = new TextEncoder();

/** A connection read line by line. */
export class LineClient implements AsyncDisposable {
  readonly conn: Deno.Conn;
  readonly #lines: AsyncGenerator<Line>;
  #pending: Promise<IteratorResult<Line>> | null = null;
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#lines = readLines(conn, { maxLineBytes: 1 << 20 });
  }

  /** Writes `line` and a line feed. */
  async send(line: string): Promise<void> {
    await this.conn.write(encoder.encode(`${line}\n`));
  }

  /** The next line, or null once the server closed the connection. Fails after `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<string | null> {
    this.#pending ??= this.#lines.next();
    const result = await within(this.#pending, timeoutMs);
    if (result === EXPIRED) throw new Error(`no line within ${timeoutMs} ms`);
    this.#pending = null;
    if (result.done) return null;
    return result.value.type === "line" ? result.value.text : "<too long>";
  }

  /** Lines up to and including the first one `done` accepts; fails if the connection ends first. */
  async readUntil(done: (line: string) => boolean, timeoutMs = 10_000): Promise<string[]> {
    const lines: string[] = [];
    while (true) {
      const line = await this.next(timeoutMs);
      if (line === null) throw new Error(`closed before the line awaited; got ${lines}`);
      lines.push(line);
      if (done(line)) return lines;
    }
  }

  /** Every line until the server closes the connection. */
  async readToEnd(timeoutMs = 10_000): Promise<string[]> {
    const lines: string[] = [];
    for (let line = await this.next(timeoutMs); line !== null; line = await this.next(timeoutMs)) {
      lines.push(line);
    }
    return lines;
  }

  /** Closes the connection (once). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.conn.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    // A read still pending fails once the socket is closed; that is expected.
    return this.#pending?.then(() => {}, () => {}) ?? Promise.resolve();
  }
}
