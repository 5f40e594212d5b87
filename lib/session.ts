/**
 * One client connection in the text protocol: the name handshake, the
 * history, then reading messages and commands until the client leaves.
 *
 * Everything the client sends goes through the bounded line reader and is
 * sanitised before it is stored. A message is confirmed only by being stored:
 * if the store fails, the client gets an error line saying it was not sent.
 * Output goes through the connection's bounded queue; a client that falls
 * too far behind is disconnected instead of slowing anyone down.
 *
 * @module
 */

import { type Frame, type Hub, SlowJoinError } from "./hub.ts";
import { type Line, readLines } from "./lines.ts";
import type { Logger } from "./log.ts";
import { type FlushScheduler, OutboundQueue } from "./outbound.ts";
import {
  errorLine,
  HELP,
  HISTORY_END,
  historyLine,
  HTTP_RESPONSE,
  isHttpRequest,
  noticeLine,
} from "./protocol.ts";
import { nameProblem, sanitize } from "./sanitize.ts";
import { type HistorySnapshot, type Store, StoreUnavailableError } from "./store.ts";

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

/** One connected client, from its first byte to its close. */
export class Session {
  readonly #conn: Deno.Conn;
  readonly #options: SessionOptions;
  readonly #outbound: OutboundQueue;
  readonly #remote: string;
  readonly #member = { deliver: (frame: Frame) => this.#deliver(frame) };
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
      const user = await this.#handshake(lines);
      if (user === null) return;
      await hub.join(
        this.#member,
        () => store.history(this.#options.historyReplay),
        (snapshot) => this.#sendHistory(snapshot),
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
        this.#reply(errorLine("the chat store is unavailable; try again shortly"));
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
   * Tells the client `text` as a notice, writes what is queued (waiting at
   * most `timeoutMs`), and closes.
   */
  async end(text: string, timeoutMs: number): Promise<void> {
    this.#outbound.push(encoder.encode(`${noticeLine(text)}\n`));
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

  /** Reads the first line. Returns the user name, or null when the client is turned away. */
  async #handshake(lines: AsyncGenerator<Line>): Promise<string | null> {
    const first = lines.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#options.handshakeTimeoutMs);
    });
    const result = await Promise.race([first, timeout]).finally(() => clearTimeout(timer));
    if (result === "timeout") {
      // The pending read fails once the connection closes; that is expected.
      first.catch(() => {});
      await this.#refuse(
        `no name received within ${this.#options.handshakeTimeoutMs / 1000} s`,
      );
      return null;
    }
    if (result.done) return null;
    const line = result.value;
    if (line.type === "too_long") {
      await this.#refuse(`name line too long (max ${this.#options.maxLineBytes} bytes)`);
      return null;
    }
    if (isHttpRequest(line.text)) {
      await this.#outbound.send(encoder.encode(HTTP_RESPONSE), LINGER_MS);
      this.close();
      return null;
    }
    // NFC, so that "Zoë" typed precomposed or decomposed is one name.
    const name = sanitize(line.text).trim().normalize("NFC");
    const problem = nameProblem(name);
    if (problem) {
      await this.#refuse(`invalid name: ${problem}`);
      return null;
    }
    return name;
  }

  async #refuse(reason: string): Promise<void> {
    this.#options.logger.info(`${this.#remote} refused: ${reason}`);
    await this.#outbound.send(encoder.encode(`${errorLine(reason)}\n`), LINGER_MS);
    this.close();
  }

  async #sendHistory(snapshot: HistorySnapshot): Promise<void> {
    const send = async (text: string) => {
      if (!await this.#outbound.send(encoder.encode(text), WRITE_TIMEOUT_MS)) {
        throw new SlowClientError(`history not read within ${WRITE_TIMEOUT_MS / 1000} s`);
      }
    };
    let piece = "";
    for (const entry of snapshot.entries) {
      piece += `${historyLine(entry)}\n`;
      if (piece.length >= HISTORY_CHUNK_BYTES) {
        await send(piece);
        piece = "";
      }
    }
    await send(`${piece}${HISTORY_END}\n`);
  }

  /** Handles one line from a joined client. Returns false when the client leaves. */
  async #handle(line: Line, user: string): Promise<boolean> {
    if (line.type === "too_long") {
      this.#reply(errorLine(
        `line too long (max ${this.#options.maxLineBytes} bytes); it was not sent`,
      ));
      return true;
    }
    let text = sanitize(line.text).trim();
    if (text === "") return true;
    if (text === "exit" || text === "/quit") return false;
    if (text === "/help") {
      for (const help of HELP) this.#reply(help);
      return true;
    }
    if (text.startsWith("//")) {
      text = text.slice(1);
    } else if (text.startsWith("/")) {
      const command = text.split(/\s/, 1)[0];
      this.#reply(errorLine(`unknown command ${command}; /help lists them, // sends a leading /`));
      return true;
    }
    try {
      await this.#options.store.append({
        user,
        text,
        ts: Date.now(),
        origin: this.#options.origin,
      });
    } catch (error) {
      this.#options.logger.warn(`message from ${user} not stored: ${(error as Error).message}`);
      this.#reply(errorLine("not sent: the chat store is unavailable; try again shortly"));
    }
    return true;
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
    // Text mode: a sender does not get its own lines back.
    if (frame.event.origin === this.#options.origin) return;
    if (!this.#outbound.push(frame.text)) this.#dropSlow();
  }

  #reply(line: string): void {
    if (!this.#outbound.push(encoder.encode(`${line}\n`))) this.#dropSlow();
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
