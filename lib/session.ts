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

import { type Frame, type Hub, SlowJoinError } from "./hub.ts";
import { jsonDialect, parseHello } from "./json_protocol.ts";
import { type Line, readLines } from "./lines.ts";
import type { Logger } from "./log.ts";
import { type FlushScheduler, OutboundQueue } from "./outbound.ts";
import {
  type Dialect,
  HTTP_RESPONSE,
  isHttpRequest,
  type NoticeCode,
  type ProtocolError,
  type Request,
} from "./protocol.ts";
import { nameProblem, sanitize } from "./sanitize.ts";
import { type HistorySnapshot, type Store, StoreUnavailableError } from "./store.ts";
import { textDialect } from "./text_protocol.ts";

/** What a session needs from the server. */
export interface SessionOptions {
  hub: Hub;
  store: Store;
  scheduler: FlushScheduler;
  logger: Logger;
  /** Unique across replicas; marks this connection's own events. */
  origin: string;
  maxLineBytes: number;
  handshakeTimeoutMs: number;
  queueLimitBytes: number;
  historyReplay: number;
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
  readonly #conn: Deno.Conn;
  readonly #options: SessionOptions;
  readonly #outbound: OutboundQueue;
  readonly #remote: string;
  readonly #member = { deliver: (frame: Frame) => this.#deliver(frame) };
  #dialect: Dialect = textDialect;
  #user: string | null = null;
  #closed = false;

  constructor(conn: Deno.Conn, options: SessionOptions) {
    this.#conn = conn;
    this.#options = options;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.#remote = `${addr.hostname}:${addr.port}`;
    this.#outbound = new OutboundQueue(conn, {
      limitBytes: options.queueLimitBytes,
      scheduler: options.scheduler,
      onError: () => this.close(),
    });
  }

  /** Serves the connection until the client leaves or it is closed. */
  async run(): Promise<void> {
    const { hub, store, logger } = this.#options;
    const lines = readLines(this.#conn, {
      maxLineBytes: this.#options.maxLineBytes,
      idleFlushMs: UNTERMINATED_LINE_MS,
    });
    try {
      const identity = await this.#handshake(lines);
      if (identity === null) return;
      const { user } = identity;
      this.#dialect = identity.dialect;
      await hub.join(
        this.#member,
        () => store.history(this.#options.historyReplay),
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
        this.#reply(this.#dialect.error({
          code: "store_unavailable",
          text: "the chat store is unavailable; try again shortly",
          fatal: true,
        }));
      } else if (error instanceof SlowJoinError || error instanceof SlowClientError) {
        logger.warn(`${this.#remote} disconnected: ${error.message}`);
      } else if (!this.#closed) {
        logger.debug(`${this.#remote} ended: ${(error as Error).message}`);
      }
    } finally {
      hub.leave(this.#member);
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
    this.#outbound.push(encoder.encode(`${this.#dialect.notice(code, text)}\n`));
    await this.#outbound.drain(timeoutMs);
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
      timer = setTimeout(() => resolve("timeout"), this.#options.handshakeTimeoutMs);
    });
    const result = await Promise.race([first, timeout]).finally(() => clearTimeout(timer));
    if (result === "timeout") {
      // The pending read fails once the connection closes; that is expected.
      first.catch(() => {});
      await this.#refuse({
        code: "handshake_timeout",
        text: `no name received within ${this.#options.handshakeTimeoutMs / 1000} s`,
      });
      return null;
    }
    if (result.done) return null;
    const line = result.value;
    if (line.type === "too_long") {
      await this.#refuse({
        code: "line_too_long",
        text: `name line too long (max ${this.#options.maxLineBytes} bytes)`,
      });
      return null;
    }
    if (isHttpRequest(line.text)) {
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
    if (line.type === "too_long") {
      this.#reply(this.#dialect.error({
        code: "line_too_long",
        text: `line too long (max ${this.#options.maxLineBytes} bytes); it was not sent`,
      }));
      return true;
    }
    const request = this.#dialect.parse(line.text);
    if (request === null) return true;
    switch (request.type) {
      case "quit":
        return false;
      case "help":
        for (const help of this.#dialect.help()) this.#reply(help);
        return true;
      case "ping":
        this.#reply(this.#dialect.pong());
        return true;
      case "who":
        this.#reply(...this.#dialect.who([user]));
        return true;
      case "invalid":
        this.#reply(this.#dialect.error(request.error));
        return true;
      case "message":
        await this.#send(request, user);
        return true;
    }
  }

  async #send(request: Extract<Request, { type: "message" }>, user: string): Promise<void> {
    try {
      await this.#options.store.append({
        user,
        text: request.text,
        ts: Date.now(),
        origin: this.#options.origin,
        ...request.ref === undefined ? {} : { ref: request.ref },
      });
    } catch (error) {
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
    const bytes = this.#dialect.live(frame, frame.event.origin === this.#options.origin);
    if (bytes !== null && !this.#outbound.push(bytes)) this.#dropSlow();
  }

  #reply(...lines: string[]): void {
    for (const line of lines) {
      if (!this.#outbound.push(encoder.encode(`${line}\n`))) return this.#dropSlow();
    }
  }

  #dropSlow(): void {
    if (this.#closed) return;
    this.#options.logger.warn(
      `${
        this.#user ?? this.#remote
      } disconnected: more than ${this.#options.queueLimitBytes} bytes waiting to be read`,
    );
    this.close();
  }
}
