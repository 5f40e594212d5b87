/**
 * A WebSocket seen as a {@linkcode ChatConn}, so that a browser gets the
 * same session as a TCP client: handshake timeout, line cap, flood guard,
 * unique names, presence and the outbound queue's limits.
 *
 * The transport is the JSON protocol with one event per text frame, both
 * ways. `read()` hands the session each text frame followed by `"\n"`;
 * `write()` splits the session's output at `"\n"` and sends each line as one
 * frame. A frame that cannot be a line of the JSON protocol (a binary frame,
 * a frame with a line break inside, a first frame that is not a JSON hello)
 * is answered with a fatal protocol error and the close. A frame over the
 * line cap reaches the session as an over-long line, which it refuses as it
 * refuses one from TCP.
 *
 * `WebSocket.send()` never pushes back, so `write()` resolves only once
 * `bufferedAmount` is below {@linkcode WebSocketConnOptions.lowWaterBytes}:
 * a browser that does not read makes the session's outbound queue grow, and
 * the queue's soft and hard limits disconnect it with a reason.
 *
 * It does not accept HTTP requests or check origins (see `web_listener.ts`).
 *
 * @module
 */

import type { ChatConn } from "./chat_conn.ts";
import { sleep } from "../util/deadline.ts";
import { jsonDialect } from "../protocol/json_dialect.ts";
import type { ProtocolError } from "../protocol/dialect.ts";

/** Options for {@linkcode WebSocketConn}. */
export interface WebSocketConnOptions {
  /** The session's line cap; longer frames are handed on cut short, as over-long lines. */
  maxLineBytes: number;
  /** `write()` resolves once fewer bytes than this wait in the socket. Default 64 KiB. */
  lowWaterBytes?: number;
  /** How often `bufferedAmount` is looked at while it is above the mark. Default 20 ms. */
  pollMs?: number;
}

/** The socket closed while output was waiting to be sent. */
export class SocketClosedError extends Error {
  constructor() {
    super("the WebSocket is closed");
    this.name = "SocketClosedError";
  }
}

const encoder = new TextEncoder();
const NEWLINE = encoder.encode("\n");

/**
 * Frames a peer may have sent but the session has not read yet, in lines of
 * the cap: past this the peer sends faster than any session reads, and is
 * treated as flooding rather than buffered without end.
 */
const INBOUND_LINES = 16;

/**
 * A server-side WebSocket adapted to the session's byte stream.
 *
 * @example
 * ```ts
 * const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 30 });
 * server.admit(new WebSocketConn(socket, info.remoteAddr, { maxLineBytes: 4096 }));
 * return response;
 * ```
 */
export class WebSocketConn implements ChatConn {
  /** The peer's address, as the connection limits count it. */
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: WebSocket;
  readonly #maxLineBytes: number;
  readonly #lowWater: number;
  readonly #pollMs: number;
  readonly #inbound: Uint8Array[] = [];
  readonly #closed = new AbortController();
  readonly #opened: Promise<boolean>;
  readonly #decoder = new TextDecoder();
  #inboundBytes = 0;
  #partial = "";
  #frames = 0;
  #wake: (() => void) | null = null;

  constructor(socket: WebSocket, remoteAddr: Deno.NetAddr, options: WebSocketConnOptions) {
    this.#socket = socket;
    this.remoteAddr = remoteAddr;
    this.#maxLineBytes = options.maxLineBytes;
    this.#lowWater = options.lowWaterBytes ?? 65_536;
    this.#pollMs = options.pollMs ?? 20;
    this.#opened = new Promise((resolve) => {
      if (socket.readyState === WebSocket.OPEN) return resolve(true);
      socket.addEventListener("open", () => resolve(true), { once: true });
      this.#closed.signal.addEventListener("abort", () => resolve(false), { once: true });
    });
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", () => this.#end());
    // An error is followed by a close event; the session learns of it by the end of input.
    socket.addEventListener("error", () => {});
  }

  /** Reads like `Deno.Conn.read`: frame bytes and their `"\n"`, or null at the end. */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#inbound.length === 0) {
      if (this.#closed.signal.aborted) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = null;
    }
    const chunk = this.#inbound[0];
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#inbound.shift();
    else this.#inbound[0] = chunk.subarray(n);
    this.#inboundBytes -= n;
    return n;
  }

  /**
   * Sends each complete line of `bytes` as one text frame, and resolves once
   * the socket's buffer is below the low-water mark again.
   *
   * @throws {SocketClosedError} when the socket closed before or while waiting.
   */
  async write(bytes: Uint8Array): Promise<number> {
    if (!await this.#opened || this.#socket.readyState !== WebSocket.OPEN) {
      throw new SocketClosedError();
    }
    const text = this.#partial + this.#decoder.decode(bytes, { stream: true });
    const lines = text.split("\n");
    this.#partial = lines.pop()!;
    for (const line of lines) this.#socket.send(line);
    // The timer exists only while something is buffered.
    while (this.#socket.bufferedAmount >= this.#lowWater) {
      await sleep(this.#pollMs, this.#closed.signal);
      if (this.#closed.signal.aborted) throw new SocketClosedError();
    }
    return bytes.length;
  }

  /** Closes the socket; reads then end and waiting writes fail. */
  close(): void {
    try {
      if (this.#socket.readyState !== WebSocket.CLOSED) this.#socket.close(1000);
    } finally {
      this.#end();
    }
  }

  #end(): void {
    if (!this.#closed.signal.aborted) this.#closed.abort();
    this.#wake?.();
  }

  #receive(data: unknown): void {
    if (this.#closed.signal.aborted) return;
    const first = this.#frames++ === 0;
    if (typeof data !== "string") {
      return this.#refuse({ code: "bad_request", text: "binary frames are not accepted" });
    }
    if (data.includes("\n")) {
      return this.#refuse({
        code: "bad_request",
        text: "one JSON object per frame, without line breaks",
      });
    }
    if (first && !data.startsWith("{")) {
      return this.#refuse({ code: "bad_hello", text: "hello: expected a JSON object" });
    }
    let bytes = encoder.encode(data);
    // Cut short but still over the cap: the session's line reader reports it
    // as too long without this copy of the rest.
    if (bytes.length > this.#maxLineBytes + 1) bytes = bytes.subarray(0, this.#maxLineBytes + 2);
    if (this.#inboundBytes + bytes.length > INBOUND_LINES * (this.#maxLineBytes + 3)) {
      return this.#refuse({
        code: "flooding",
        text: "flooding: sent faster than it could be read; disconnected",
      });
    }
    this.#inbound.push(bytes, NEWLINE);
    this.#inboundBytes += bytes.length + 1;
    this.#wake?.();
  }

  /** Sends a fatal error for a frame the protocol has no place for, and closes. */
  #refuse(error: ProtocolError): void {
    this.#inbound.length = 0;
    this.#inboundBytes = 0;
    try {
      this.#socket.send(jsonDialect.error({ ...error, fatal: true }));
      this.#socket.close(1008, error.code);
    } finally {
      this.#end();
    }
  }
}
