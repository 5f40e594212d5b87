/**
 * One client connection: the handshake, the history, then reading requests
 * until the client leaves. The first line picks the dialect: a name starts
 * the text protocol, a `{` starts the JSON protocol (see `protocol.ts`).
 *
 * Everything the client sends goes through the bounded line reader and is
 * sanitised before it is stored. A message is confirmed only by being stored:
 * if the store fails, the client gets an error saying it was not sent.
 * Output goes through the connection's bounded queue; a client that falls
 * too far behind is disconnected instead of slowing anyone down.
 *
 * @module
 */

import type { ChatConn } from "./chat_conn.ts";
import type { Frame } from "./frame.ts";
import { type Hub, type Member, SlowJoinError } from "./hub.ts";
import { jsonDialect, parseHello } from "../protocol/json_dialect.ts";
import { type Line, readLines } from "../util/line_reader.ts";
import type { Logger } from "../ops/log.ts";
import type { ServerMetrics } from "../ops/chat_metrics.ts";
import { type FlushScheduler, OutboundQueue } from "./outbound_queue.ts";
import type { Presence } from "../store/presence.ts";
import {
  type Dialect,
  HTTP_RESPONSE,
  isHttpRequest,
  type NoticeCode,
  type ProtocolError,
  type Request,
} from "../protocol/dialect.ts";
import { FloodGuard } from "./flood_guard.ts";
import { nameProblem, sanitize } from "../util/sanitize.ts";
import { type HistorySnapshot, type Store, StoreUnavailableError } from "../store/store.ts";
import { textDialect } from "../protocol/text_dialect.ts";

/** What a session needs from the server. */
export interface SessionOptions {
  hub: Hub;
  store: Store;
  presence: Presence;
  scheduler: FlushScheduler;
  logger: Logger;
  metrics: ServerMetrics;
  /** Unique across replicas; marks this connection's own events and name claim. */
  origin: string;
  limits: SessionLimits;
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

/**
 * Silence after which bytes without a line break count as a line: the old
 * Python client sends its name and each message as one write without `\n`.
 */
const UNTERMINATED_LINE_MS = 50;

/** How long a leaving client's last output may take to be written. */
const LINGER_MS = 2_000;

/** How long one piece of output the client asked for may take to be read. */
const WRITE_TIMEOUT_MS = 30_000;

/** History is written in pieces of about this size. */
const HISTORY_CHUNK_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/** The client does not read its output fast enough to stay connected. */
export class SlowClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SlowClientError";
  }
}

/** Who a client is, as agreed in the handshake. */
interface Identity {
  user: string;
  dialect: Dialect;
  /** JSON mode: replay only messages with a higher id. */
  since?: number;
}

/** One connected client, from its first byte to its close. */
export class Session {
  readonly #conn: ChatConn;
  readonly #options: SessionOptions;
  readonly #outbound: OutboundQueue;
  readonly #remote: string;
  readonly #limits: SessionLimits;
  readonly #member: Member = {
    measure: (frame) => frame.bytes(this.#dialect).length,
    deliver: (frame) => this.#deliver(frame),
  };
  readonly #flood: FloodGuard;
  #dialect: Dialect = textDialect;
  #user: string | null = null;
  /** Since when more than the soft limit has been waiting (performance.now()). */
  #overSoftSince: number | null = null;
  #dropping = false;
  #closed = false;

  constructor(conn: ChatConn, options: SessionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.#limits = options.limits;
    const addr = conn.remoteAddr;
    this.#remote = `${addr.hostname}:${addr.port}`;
    this.#outbound = new OutboundQueue(conn, {
      limitBytes: options.limits.queueLimitBytes,
      scheduler: options.scheduler,
      onError: () => this.close(),
    });
    this.#flood = new FloodGuard({ rate: this.#limits.rateLimit, burst: this.#limits.rateBurst });
  }

  /** The user's name once it is claimed, else null. */
  get user(): string | null {
    return this.#user;
  }

  /** Unique across replicas: this connection's id. */
  get origin(): string {
    return this.#options.origin;
  }

  /** Serves the connection until the client leaves or it is closed. */
  async run(): Promise<void> {
    const { hub, store, presence, logger, metrics } = this.#options;
    const lines = readLines(this.#conn, {
      maxLineBytes: this.#limits.maxLineBytes,
      idleFlushMs: UNTERMINATED_LINE_MS,
    });
    let claimed: string | null = null;
    try {
      const identity = await this.#handshake(lines);
      if (identity === null) return;
      const { user } = identity;
      if (!await presence.claim(user, this.#options.origin)) {
        await this.#refuse({
          code: "name_taken",
          text: `the name ${user} is taken by someone online; choose another`,
        });
        return;
      }
      claimed = user;
      await hub.join(
        this.#member,
        // A resume gets every stored message it missed, not only the replay window.
        () =>
          store.history(
            identity.since === undefined ? this.#limits.historyReplay : this.#limits.historyLimit,
          ),
        (snapshot) => this.#sendHistory(snapshot, identity.since),
      );
      this.#user = user;
      logger.info(`${user} joined from ${this.#remote}`);
      await this.#announce("join", user);
      for await (const line of lines) {
        if (!await this.#handle(line, user)) break;
      }
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        logger.warn(`${this.#remote} turned away: ${error.message}`);
        metrics.refused.store_unavailable.inc();
        this.#reply(this.#dialect.error({
          code: "store_unavailable",
          text: "the chat store is unavailable; try again shortly",
          fatal: true,
        }));
      } else if (error instanceof SlowJoinError || error instanceof SlowClientError) {
        logger.warn(`${this.#remote} disconnected: ${error.message}`);
        metrics.slowConsumersDisconnected.inc();
      } else if (!this.#closed) {
        logger.debug(`${this.#remote} ended: ${(error as Error).message}`);
      }
    } finally {
      hub.leave(this.#member);
      if (claimed !== null) {
        await presence.release(claimed, this.#options.origin).catch((error) =>
          logger.warn(`${claimed} not released: ${(error as Error).message}`)
        );
      }
      if (this.#user) {
        logger.info(`${this.#user} left`);
        await this.#announce("leave", this.#user);
      }
      await this.#outbound.drain(LINGER_MS);
      this.close();
    }
  }

  /**
   * Sends the client a notice, writes what is queued (waiting at most
   * `timeoutMs`), and closes.
   */
  async end(code: NoticeCode, text: string, timeoutMs: number): Promise<void> {
    await this.#outbound.send(encoder.encode(`${this.#dialect.notice(code, text)}\n`), timeoutMs);
    this.close();
  }

  /** Tells the client a fatal error, gives it a moment to be read, and closes. */
  async fail(error: ProtocolError): Promise<void> {
    this.#options.hub.leave(this.#member);
    this.#outbound.discardQueued();
    const line = this.#dialect.error({ ...error, fatal: true });
    await this.#outbound.send(encoder.encode(`${line}\n`), LINGER_MS);
    this.close();
  }

  /** Closes the connection at once; `run` then finishes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outbound.close();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
  }

  /** Reads the first line. Returns who the client is, or null when it is turned away. */
  async #handshake(lines: AsyncGenerator<Line>): Promise<Identity | null> {
    const first = lines.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#limits.handshakeTimeoutMs);
    });
    const result = await Promise.race([first, timeout]).finally(() => clearTimeout(timer));
    if (result === "timeout") {
      // The pending read fails once the connection closes; that is expected.
      first.catch(() => {});
      await this.#refuse({
        code: "handshake_timeout",
        text: `no name received within ${this.#limits.handshakeTimeoutMs / 1000} s`,
      });
      return null;
    }
    if (result.done) return null;
    const line = result.value;
    if (line.type === "too_long") {
      await this.#refuse({
        code: "line_too_long",
        text: `name line too long (max ${this.#limits.maxLineBytes} bytes)`,
      });
      return null;
    }
    if (isHttpRequest(line.text)) {
      this.#options.metrics.refused.http_probe.inc();
      this.#options.logger.debug(`${this.#remote} sent an HTTP request; answered and closed`);
      await this.#outbound.send(encoder.encode(HTTP_RESPONSE), LINGER_MS);
      this.close();
      return null;
    }
    let identity: Identity = { user: line.text, dialect: textDialect };
    if (line.text.startsWith("{")) {
      this.#dialect = jsonDialect;
      const hello = parseHello(line.text);
      if ("code" in hello) {
        await this.#refuse(hello);
        return null;
      }
      identity = { ...hello, dialect: jsonDialect };
    }
    // NFC, so that "Zoë" typed precomposed or decomposed is one name.
    const name = sanitize(identity.user).trim().normalize("NFC");
    const problem = nameProblem(name);
    if (problem) {
      await this.#refuse({ code: "invalid_name", text: `invalid name: ${problem}` });
      return null;
    }
    return { ...identity, user: name };
  }

  async #refuse(error: ProtocolError): Promise<void> {
    this.#options.logger.info(`${this.#remote} refused: ${error.text}`);
    const { refused } = this.#options.metrics;
    if (error.code in refused) refused[error.code as keyof typeof refused].inc();
    const line = this.#dialect.error({ ...error, fatal: true });
    await this.#outbound.send(encoder.encode(`${line}\n`), LINGER_MS);
    this.close();
  }

  async #sendHistory(snapshot: HistorySnapshot, since: number | undefined): Promise<void> {
    const send = async (text: string) => {
      if (!await this.#outbound.send(encoder.encode(text), WRITE_TIMEOUT_MS)) {
        throw new SlowClientError(`history not read within ${WRITE_TIMEOUT_MS / 1000} s`);
      }
    };
    const dialect = this.#dialect;
    let piece = "";
    for (const entry of snapshot.entries) {
      if (since !== undefined && (entry.type !== "message" || entry.id <= since)) continue;
      piece += `${dialect.history(entry)}\n`;
      if (piece.length >= HISTORY_CHUNK_BYTES) {
        await send(piece);
        piece = "";
      }
    }
    await send(`${piece}${dialect.historyEnd(snapshot.lastId)}\n`);
  }

  /** Handles one line from a joined client. Returns false when the client leaves. */
  async #handle(line: Line, user: string): Promise<boolean> {
    const { metrics } = this.#options;
    const request = line.type === "line" ? this.#dialect.parse(line.text) : null;
    if (request?.type === "quit") return false;
    // Every line costs a token, including ones that are refused or ignored.
    const verdict = this.#flood.check();
    if (verdict === "disconnect") {
      this.#options.logger.warn(`${user} disconnected for flooding`);
      metrics.floodersDisconnected.inc();
      this.#reply(this.#dialect.error({
        code: "flooding",
        text: "flooding: kept sending faster than the rate limit; disconnected",
        fatal: true,
      }));
      return false;
    }
    if (line.type === "too_long") {
      metrics.messagesReceived.inc();
      metrics.rejected.too_long.inc();
      this.#reply(this.#dialect.error({
        code: "line_too_long",
        text: `line too long (max ${this.#limits.maxLineBytes} bytes); it was not sent`,
      }));
      return true;
    }
    if (request === null) return true;
    if (verdict === "slow_down") {
      if (request.type === "message") {
        metrics.messagesReceived.inc();
        metrics.rejected.rate_limited.inc();
      }
      this.#reply(this.#dialect.error({
        code: "slow_down",
        text: `slow down: at most ${this.#limits.rateLimit} messages per second; it was not sent`,
        ...request.type === "message" && request.ref !== undefined ? { ref: request.ref } : {},
      }));
      return true;
    }
    switch (request.type) {
      case "help":
        for (const help of this.#dialect.help()) this.#reply(help);
        return true;
      case "ping":
        this.#reply(this.#dialect.pong());
        return true;
      case "who":
        await this.#who();
        return true;
      case "invalid":
        this.#reply(this.#dialect.error(request.error));
        return true;
      case "message":
        await this.#send(request, user);
        return true;
    }
  }

  async #who(): Promise<void> {
    try {
      this.#reply(...this.#dialect.who(await this.#options.presence.list()));
    } catch (error) {
      this.#options.logger.warn(`who list unavailable: ${(error as Error).message}`);
      this.#reply(this.#dialect.error({
        code: "store_unavailable",
        text: "the chat store is unavailable; try again shortly",
      }));
    }
  }

  async #send(request: Extract<Request, { type: "message" }>, user: string): Promise<void> {
    const { metrics } = this.#options;
    metrics.messagesReceived.inc();
    const started = performance.now();
    try {
      await this.#options.store.append({
        user,
        text: request.text,
        ts: Date.now(),
        origin: this.#options.origin,
        ...request.ref === undefined ? {} : { ref: request.ref },
      });
      metrics.storeAppendSeconds.observe((performance.now() - started) / 1000);
      metrics.messagesStored.inc();
    } catch (error) {
      metrics.rejected.store_unavailable.inc();
      this.#options.logger.warn(`message from ${user} not stored: ${(error as Error).message}`);
      this.#reply(this.#dialect.error({
        code: "not_sent",
        text: "not sent: the chat store is unavailable; try again shortly",
        ...request.ref === undefined ? {} : { ref: request.ref },
      }));
    }
  }

  async #announce(type: "join" | "leave", user: string): Promise<void> {
    try {
      await this.#options.store.publish({
        type,
        user,
        ts: Date.now(),
        origin: this.#options.origin,
      });
    } catch (error) {
      this.#options.logger.warn(`${type} of ${user} not announced: ${(error as Error).message}`);
    }
  }

  #deliver(frame: Frame): void {
    const own = frame.event.origin === this.#options.origin;
    if (this.#dropping || this.#dialect.skips(frame.event, own)) return;
    if (!this.#outbound.push(frame.bytes(this.#dialect))) {
      return this.#dropSlow(`more than ${this.#limits.queueLimitBytes} bytes waiting to be read`);
    }
    if (frame.event.type === "message") this.#options.metrics.messagesDelivered.inc();
    this.#checkSoftLimit();
  }

  /** Like Redis's soft output limit: a backlog may pass it only for a while. */
  #checkSoftLimit(): void {
    if (this.#outbound.bytes <= this.#limits.queueSoftLimitBytes) {
      this.#overSoftSince = null;
      return;
    }
    const now = performance.now();
    this.#overSoftSince ??= now;
    if (now - this.#overSoftSince > this.#limits.queueSoftMs) {
      this.#dropSlow(
        `more than ${this.#limits.queueSoftLimitBytes} bytes waiting to be read for over ${
          this.#limits.queueSoftMs / 1000
        } s`,
      );
    }
  }

  #reply(...lines: string[]): void {
    for (const line of lines) {
      if (!this.#outbound.push(encoder.encode(`${line}\n`))) {
        return this.#dropSlow(`more than ${this.#limits.queueLimitBytes} bytes waiting to be read`);
      }
    }
  }

  /** Disconnects a client that does not keep up; the hub never waits for it. */
  #dropSlow(reason: string): void {
    if (this.#closed || this.#dropping) return;
    this.#dropping = true;
    this.#options.logger.warn(`${this.#user ?? this.#remote} disconnected: ${reason}`);
    this.#options.metrics.slowConsumersDisconnected.inc();
    void this.fail({ code: "slow_consumer", text: `too slow: ${reason}; disconnected` });
  }
}
