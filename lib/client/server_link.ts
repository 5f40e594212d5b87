/**
 * One connection (TCP, or TLS over TCP) to the chat server in JSON mode: opened within a
 * deadline, read as {@linkcode ServerEvent}s, written in order, and watched
 * for silence (a `ping` after a quiet spell, closed after twice as long).
 *
 * It neither says hello, nor reconnects, nor acts on events: that is
 * `connection.ts`, which opens a new link after each drop.
 *
 * @module
 */

import { EXPIRED, within } from "../util/deadline.ts";
import { readLines } from "../util/line_reader.ts";
import {
  type ClientRequest,
  encodeRequest,
  parseServerEvent,
  type ServerEvent,
} from "../protocol/server_events.ts";

/** Where and how to connect. */
export interface LinkOptions {
  host: string;
  port: number;
  /** Opens the connection (for TLS: with its handshake done, so certificate errors show here). */
  connect: (host: string, port: number) => Promise<Deno.Conn>;
  /** Longest wait for the TCP connection. */
  timeoutMs: number;
  /** Stops the wait when aborted (the user is leaving). */
  signal: AbortSignal;
}

/** Longest line accepted from the server; longer ones are skipped. */
const MAX_SERVER_LINE_BYTES = 1 << 20;

const encoder = new TextEncoder();

/** A connection to the chat server; see the module documentation. */
export class ServerLink {
  readonly #conn: Deno.Conn;
  readonly #lines: AsyncIterator<string>;
  #writes: Promise<void> = Promise.resolve();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastHeard = Date.now();
  #pinged = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#lines = lineTexts(conn);
  }

  /**
   * Connects, giving up after `timeoutMs` or when `signal` aborts.
   *
   * @throws {Error} when the connection fails, takes too long (`no answer
   * within N s`) or is abandoned (`leaving`).
   */
  static async open(options: LinkOptions): Promise<ServerLink> {
    const { host, port, connect, timeoutMs, signal } = options;
    const connecting = connect(host, port);
    const conn = await within(connecting, timeoutMs, signal);
    if (conn === EXPIRED) {
      // A connection that comes too late is not wanted any more.
      connecting.then((late) => late.close(), () => {});
      throw new Error(
        signal.aborted ? "leaving" : `no answer within ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    // Only plain TCP connections have it; a TLS one sets no delay by default.
    (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
    return new ServerLink(conn);
  }

  /** The next event from the server, or null once the connection has ended. */
  async next(): Promise<ServerEvent | null> {
    while (true) {
      let result: IteratorResult<string>;
      try {
        result = await this.#lines.next();
      } catch {
        return null;
      }
      if (result.done) return null;
      const event = parseServerEvent(result.value);
      if (event) {
        this.#lastHeard = Date.now();
        this.#pinged = false;
        return event;
      }
    }
  }

  /** Writes `request` after everything sent before it; a failed write closes the link. */
  send(request: ClientRequest): void {
    const bytes = encoder.encode(encodeRequest(request));
    const conn = this.#conn;
    this.#writes = this.#writes.then(async () => {
      let written = 0;
      while (written < bytes.length) written += await conn.write(bytes.subarray(written));
    }).catch(() => {
      // The read side notices the broken connection.
      this.close();
    });
  }

  /** Resolves once everything sent so far is written, or could not be. */
  flushed(): Promise<void> {
    return this.#writes;
  }

  /**
   * From now on, pings the server after `heartbeatMs` without an event and
   * closes the link after twice that, so that a dead connection is noticed.
   */
  watch(heartbeatMs: number): void {
    this.#lastHeard = Date.now();
    this.#pinged = false;
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      const silent = Date.now() - this.#lastHeard;
      if (silent >= 2 * heartbeatMs) {
        this.close();
      } else if (silent >= heartbeatMs && !this.#pinged) {
        this.#pinged = true;
        this.send({ type: "ping" });
      }
    }, heartbeatMs / 2);
  }

  /** Closes the connection; a pending {@linkcode next} then returns null. */
  close(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** The text lines of `conn`, skipping lines too long to be a sane event. */
async function* lineTexts(conn: Deno.Conn): AsyncGenerator<string> {
  for await (const line of readLines(conn, { maxLineBytes: MAX_SERVER_LINE_BYTES })) {
    if (line.type === "line") yield line.text;
  }
}
