/**
 * The client's connection to the chat server in JSON mode, kept alive across
 * drops: it joins, turns the server's lines into {@linkcode ClientEvent}s,
 * sends messages with a `ref` and matches their receipts, and reconnects
 * when the connection is lost.
 *
 * What it guarantees, following `docs/protocol.md`:
 * - No message shown twice or missed across a reconnect: it remembers the
 *   id of the last message it delivered, resumes with `since`, and drops any
 *   message at or below that id.
 * - No message lost silently: outgoing messages wait in an outbox and leave
 *   it only with their receipt (the server's copy of the message, carrying
 *   its `ref`) or with a `not_sent` event saying why. One message is in
 *   flight at a time, which keeps them in order when the server answers
 *   `slow_down` (it is sent again after a pause) or when the connection drops
 *   before the receipt (after resuming, it is looked up by `ref` in the missed
 *   history and sent again only if it is not there).
 * - Reconnecting uses exponential backoff with jitter and gives up after the
 *   configured time. `name_taken` while reconnecting is retried (the server
 *   may not have noticed the old connection is gone).
 * - A connection that goes silent is detected with `ping` and dropped.
 *
 * It does not print or format anything; the caller renders the events.
 *
 * @module
 */

import { AsyncQueue } from "../util/async_queue.ts";
import {
  type ClientRequest,
  encodeRequest,
  parseServerEvent,
  type ServerEvent,
  type ServerMessage,
} from "../protocol/server_events.ts";
import { readLines } from "../util/line_reader.ts";
import { sanitize } from "../util/sanitize.ts";

/** Something the user should see, in the order it happened. */
export type ClientEvent =
  /** A chat message; `own` when it was sent under this client's name. */
  | { type: "message"; message: ServerMessage; own: boolean }
  /** A history entry written by the old service, as it was stored. */
  | { type: "legacy"; text: string }
  | { type: "join" | "leave"; user: string; ts: number }
  /** The answer to {@linkcode ChatConnection.who}. */
  | { type: "who"; users: string[] }
  /** A notice from the server (a `shutdown` notice instead becomes the reason of the drop after it). */
  | { type: "notice"; code: string; text: string }
  /** An error from the server that is about no particular message. */
  | { type: "server_error"; code: string; text: string }
  /** A message was typed while disconnected; it is sent after reconnecting. */
  | { type: "queued"; text: string }
  /** A message will not be sent; `reason` says why. */
  | { type: "not_sent"; text: string; reason: string }
  /** The connection was lost; reconnecting for up to `timeoutMs`. */
  | { type: "disconnected"; reason: string; timeoutMs: number }
  /** A reconnection attempt failed; the next one comes after `delayMs`. */
  | { type: "retrying"; attempt: number; error: string; delayMs: number }
  /** Connected again; `missed` messages arrived while away (already delivered as events). */
  | { type: "reconnected"; missed: number }
  /** No connection could be made again within the reconnect timeout. */
  | { type: "gave_up"; afterMs: number }
  /** The server refused this client for good (a fatal error that retrying cannot fix). */
  | { type: "refused"; code: string; text: string };

/** Why a {@linkcode ChatConnection} ended. */
export type FinishReason = "quit" | "gave_up" | "refused";

/** Options for {@linkcode ChatConnection.open}. */
export interface ChatConnectionOptions {
  host: string;
  port: number;
  user: string;
  /** How long to keep reconnecting after a drop; 0 ends at the first drop. */
  reconnectTimeoutMs: number;
  /** Opens the TCP connection; `Deno.connect` by default. */
  connect?: (host: string, port: number) => Promise<Deno.TcpConn>;
  /** Random numbers in [0, 1) for the jitter; `Math.random` by default. */
  random?: () => number;
  /** First reconnect delay, before jitter. Defaults to 250 ms. */
  initialRetryDelayMs?: number;
  /** Longest reconnect delay. Defaults to 5 s. */
  maxRetryDelayMs?: number;
  /** Time from connecting to the end of the history. Defaults to 15 s. */
  handshakeTimeoutMs?: number;
  /** Silence after which the server is pinged; twice this drops the connection. Defaults to 20 s. */
  heartbeatMs?: number;
  /**
   * First pause before sending a message again after `slow_down`; it doubles
   * while the server keeps refusing, up to 8 times this. Defaults to 1 s,
   * which at the server's default rate earns several messages' worth, so
   * the refusals (which the server also counts) stay few.
   */
  slowDownMs?: number;
}

/** The first connection could not be made, or the server refused it. */
export class ConnectError extends Error {
  /** The server's error code when it refused; undefined for network errors. */
  readonly code: string | undefined;

  constructor(message: string, code?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
    this.code = code;
  }
}

/** The server ended the handshake with a fatal error. */
class RefusedError extends ConnectError {
  constructor(code: string, text: string) {
    super(text, code);
    this.name = "RefusedError";
  }
}

/** Errors that no retry can fix: the hello itself is wrong. */
const PERMANENT = new Set(["bad_hello", "invalid_name"]);

/** Errors without a `ref` that can only be about the message in flight. */
const ABOUT_MESSAGE = new Set(["line_too_long", "not_sent", "slow_down"]);

/** The longest pause after `slow_down`, as a multiple of the first. */
const SLOW_DOWN_GROWTH_LIMIT = 8;

/** Longest line accepted from the server; longer ones are skipped. */
const MAX_SERVER_LINE_BYTES = 1 << 20;

const encoder = new TextEncoder();

interface Outgoing {
  ref: string;
  text: string;
  /** Written to the current connection, receipt not yet seen. */
  inFlight: boolean;
}

/**
 * A JSON-mode chat connection that reconnects by itself.
 *
 * @example
 * ```ts
 * const chat = await ChatConnection.open({
 *   host: "localhost", port: 6000, user: "alice", reconnectTimeoutMs: 120_000,
 * });
 * chat.send("hi");
 * (async () => {
 *   for await (const event of chat.events) console.log(event);
 * })();
 * const unsent = await chat.quit(); // texts that got no receipt
 * ```
 */
export class ChatConnection {
  readonly #options: Required<ChatConnectionOptions>;
  readonly #events = new AsyncQueue<ClientEvent>();
  readonly #stop = new AbortController();
  readonly #refPrefix = crypto.randomUUID().slice(0, 8);
  #refCount = 0;
  #outbox: Outgoing[] = [];
  #conn: Deno.TcpConn | null = null;
  #lines: AsyncIterator<string> | null = null;
  #online = false;
  #writes: Promise<void> = Promise.resolve();
  /** Id of the last message delivered; the `since` of the next hello. */
  #lastId = 0;
  /** The server's shutdown notice, which explains the drop that follows it. */
  #shutdown: string | null = null;
  #slowDownMs = 0;
  #slowDownTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastHeard = 0;
  #pinged = false;
  #progress: (() => void) | null = null;
  #finished: Promise<FinishReason> = Promise.resolve("quit");

  private constructor(options: ChatConnectionOptions) {
    this.#options = {
      connect: (hostname, port) => Deno.connect({ hostname, port }),
      random: Math.random,
      initialRetryDelayMs: 250,
      maxRetryDelayMs: 5_000,
      handshakeTimeoutMs: 15_000,
      heartbeatMs: 20_000,
      slowDownMs: 1_000,
      ...options,
    };
  }

  /**
   * Connects, joins and reads the history (delivered as the first events).
   *
   * @throws {ConnectError} when the server cannot be reached or refuses the hello.
   */
  static async open(options: ChatConnectionOptions): Promise<ChatConnection> {
    const chat = new ChatConnection(options);
    try {
      await chat.#establish(undefined, chat.#options.handshakeTimeoutMs);
    } catch (error) {
      chat.#events.close();
      if (error instanceof ConnectError) throw error;
      throw new ConnectError(
        `cannot connect to ${options.host}:${options.port}: ${(error as Error).message}`,
        undefined,
        { cause: error },
      );
    }
    chat.#finished = chat.#run();
    return chat;
  }

  /** Everything to show, in order; ends once the connection is over for good. */
  get events(): AsyncIterable<ClientEvent> {
    return this.#events;
  }

  /** Whether the client is connected and past the history right now. */
  get online(): boolean {
    return this.#online;
  }

  /** Resolves once the connection is over for good, with the reason. */
  get finished(): Promise<FinishReason> {
    return this.#finished;
  }

  /**
   * Sends a message, or queues it while disconnected. Its receipt arrives as
   * a `message` event with `own` set; failure as a `not_sent` event. Text is
   * cleaned as the server would clean it; a blank one is ignored.
   */
  send(text: string): void {
    const clean = sanitize(text).trim();
    if (clean === "" || this.#stop.signal.aborted) return;
    this.#outbox.push({
      ref: `${this.#refPrefix}:${++this.#refCount}`,
      text: clean,
      inFlight: false,
    });
    if (!this.#online) this.#events.push({ type: "queued", text: clean });
    this.#pump();
  }

  /** Asks who is online; the answer is a `who` event. Ignored while disconnected. */
  who(): void {
    if (this.#online && this.#conn) this.#write(this.#conn, { type: "who" });
  }

  /**
   * Leaves: waits until every message sent so far has its receipt (giving up
   * once nothing has happened for `idleTimeoutMs`), says goodbye and closes.
   * Messages still without a receipt are reported as `not_sent` events.
   *
   * @returns the texts of the messages that were not confirmed.
   */
  async quit(idleTimeoutMs = 5_000): Promise<string[]> {
    while (this.#outbox.length > 0 && !this.#events.closed) {
      if (!await this.#waitForProgress(idleTimeoutMs)) break;
    }
    const unsent = this.#outbox.map((outgoing) => outgoing.text);
    this.#stop.abort();
    if (this.#online && this.#conn) {
      this.#write(this.#conn, { type: "quit" });
      await this.#writes;
    }
    this.#closeConnection();
    await this.#finished;
    return unsent;
  }

  async #run(): Promise<FinishReason> {
    let reason: FinishReason;
    let why = "";
    while (true) {
      const refusal = await this.#readLive();
      this.#closeConnection();
      if (this.#stop.signal.aborted) {
        reason = "quit";
        why = "no receipt from the server before leaving";
        break;
      }
      if (refusal && PERMANENT.has(refusal.code)) {
        this.#events.push({ type: "refused", code: refusal.code, text: refusal.text });
        reason = "refused";
        why = "the server refused the connection";
        break;
      }
      const { reconnectTimeoutMs } = this.#options;
      this.#events.push({
        type: "disconnected",
        reason: refusal?.text ?? this.#shutdown ?? "connection lost",
        timeoutMs: reconnectTimeoutMs,
      });
      const result = await this.#reconnect(Date.now() + reconnectTimeoutMs);
      if (result !== "ok") {
        reason = result;
        why = result === "quit"
          ? "not connected when leaving"
          : result === "gave_up"
          ? "could not reconnect"
          : "the server refused the connection";
        break;
      }
    }
    clearTimeout(this.#slowDownTimer);
    for (const outgoing of this.#outbox) {
      this.#events.push({ type: "not_sent", text: outgoing.text, reason: why });
    }
    this.#outbox = [];
    this.#events.close();
    this.#progress?.();
    return reason;
  }

  async #reconnect(deadline: number): Promise<"ok" | FinishReason> {
    const { initialRetryDelayMs, maxRetryDelayMs, random, handshakeTimeoutMs } = this.#options;
    // The first try also waits a little, so that clients dropped together
    // by a restarting server do not all come back at the same instant.
    let delay = Math.min(deadline - Date.now(), random() * initialRetryDelayMs);
    for (let attempt = 1;; attempt++) {
      if (delay > 0) await this.#sleep(delay);
      if (this.#stop.signal.aborted) return "quit";
      if (Date.now() >= deadline) {
        this.#events.push({ type: "gave_up", afterMs: this.#options.reconnectTimeoutMs });
        return "gave_up";
      }
      try {
        let missed = 0;
        await this.#establish(
          this.#lastId,
          Math.min(handshakeTimeoutMs, Math.max(1_000, deadline - Date.now())),
          () => missed++,
        );
        this.#events.push({ type: "reconnected", missed });
        this.#pump();
        return "ok";
      } catch (error) {
        if (this.#stop.signal.aborted) return "quit";
        if (error instanceof RefusedError && PERMANENT.has(error.code!)) {
          this.#events.push({ type: "refused", code: error.code!, text: error.message });
          return "refused";
        }
        const base = Math.min(maxRetryDelayMs, initialRetryDelayMs * 2 ** attempt);
        delay = Math.min(Math.max(0, deadline - Date.now()), base / 2 + random() * base / 2);
        this.#events.push({
          type: "retrying",
          attempt,
          error: (error as Error).message,
          delayMs: Math.round(delay),
        });
      }
    }
  }

  /**
   * Opens a connection, says hello and reads the history up to
   * `history_end`, delivering it. On success the connection is live.
   */
  async #establish(since: number | undefined, timeoutMs: number, onMessage?: () => void) {
    const { user } = this.#options;
    const conn = await this.#connect(timeoutMs);
    this.#conn = conn;
    const timer = setTimeout(() => this.#closeConnection(), timeoutMs);
    try {
      this.#lines = lineTexts(conn);
      this.#write(
        conn,
        since === undefined ? { type: "hello", user } : { type: "hello", user, since },
      );
      while (true) {
        const event = await this.#next();
        if (event === null) {
          throw new ConnectError(
            this.#stop.signal.aborted
              ? "leaving"
              : `the server closed the connection before the history ended (waited at most ${
                Math.round(timeoutMs / 1000)
              } s)`,
          );
        }
        if (event.type === "error" && event.fatal) throw new RefusedError(event.code, event.text);
        if (event.type === "history_end") {
          // Lower than what was seen: the server's history was replaced and
          // its ids start again, so what follows is new all the same.
          this.#lastId = event.id;
          break;
        }
        if (this.#dispatch(event) && onMessage) onMessage();
      }
    } catch (error) {
      this.#closeConnection();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.#online = true;
    this.#shutdown = null;
    this.#progress?.();
  }

  async #connect(timeoutMs: number): Promise<Deno.TcpConn> {
    const { host, port, connect } = this.#options;
    const connecting = connect(host, port);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort = () => {};
    try {
      const conn = await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)),
            timeoutMs,
          );
          onAbort = () => reject(new Error("leaving"));
          this.#stop.signal.addEventListener("abort", onAbort);
        }),
      ]);
      conn.setNoDelay(true);
      return conn;
    } catch (error) {
      // A connection that comes too late is not wanted any more.
      connecting.then((conn) => conn.close(), () => {});
      throw error;
    } finally {
      clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", onAbort);
    }
  }

  /** Reads live events until the connection ends; returns the fatal error that ended it, if any. */
  async #readLive(): Promise<{ code: string; text: string } | null> {
    const { heartbeatMs } = this.#options;
    this.#lastHeard = Date.now();
    this.#pinged = false;
    this.#heartbeat = setInterval(() => {
      const silent = Date.now() - this.#lastHeard;
      if (silent >= 2 * heartbeatMs) {
        this.#closeConnection();
      } else if (silent >= heartbeatMs && !this.#pinged && this.#conn) {
        this.#pinged = true;
        this.#write(this.#conn, { type: "ping" });
      }
    }, heartbeatMs / 2);
    while (true) {
      const event = await this.#next();
      if (event === null) return null;
      this.#lastHeard = Date.now();
      this.#pinged = false;
      if (event.type === "error" && event.fatal) return event;
      this.#dispatch(event);
    }
  }

  /** The next event from the current connection, or null once it has ended. */
  async #next(): Promise<ServerEvent | null> {
    const lines = this.#lines;
    if (!lines) return null;
    while (true) {
      let result: IteratorResult<string>;
      try {
        result = await lines.next();
      } catch {
        return null;
      }
      if (result.done) return null;
      const event = parseServerEvent(result.value);
      if (event) return event;
    }
  }

  /** Handles one event; returns true when it was a message shown for the first time. */
  #dispatch(event: ServerEvent): boolean {
    switch (event.type) {
      case "message": {
        if (event.id <= this.#lastId) return false;
        this.#lastId = event.id;
        const { type: _, ...message } = event;
        const own = message.user === this.#options.user;
        if (own && message.ref !== undefined) this.#confirm(message.ref);
        this.#events.push({ type: "message", message, own });
        return true;
      }
      case "notice":
        // A shutdown notice is followed by the drop, which reports it.
        if (event.code === "shutdown") this.#shutdown = event.text;
        else this.#events.push(event);
        return false;
      case "legacy":
      case "join":
      case "leave":
      case "who":
        this.#events.push(event);
        return false;
      case "error":
        this.#serverError(event);
        return false;
      default:
        return false;
    }
  }

  #confirm(ref: string): void {
    const index = this.#outbox.findIndex((outgoing) => outgoing.ref === ref);
    if (index === -1) return;
    this.#outbox.splice(index, 1);
    this.#slowDownMs = 0;
    this.#progress?.();
    this.#pump();
  }

  #serverError(error: Extract<ServerEvent, { type: "error" }>): void {
    const head = this.#outbox[0];
    const outgoing = error.ref !== undefined
      ? this.#outbox.find((candidate) => candidate.ref === error.ref)
      : head?.inFlight && ABOUT_MESSAGE.has(error.code)
      ? head
      : undefined;
    if (!outgoing) {
      this.#events.push({ type: "server_error", code: error.code, text: error.text });
      return;
    }
    if (error.code === "slow_down") {
      // Over the rate limit: the same message again after a growing pause,
      // with nothing else sent meanwhile, so the order stays.
      outgoing.inFlight = false;
      const { slowDownMs } = this.#options;
      this.#slowDownMs = Math.min(
        slowDownMs * SLOW_DOWN_GROWTH_LIMIT,
        this.#slowDownMs * 2 || slowDownMs,
      );
      clearTimeout(this.#slowDownTimer);
      this.#slowDownTimer = setTimeout(() => {
        this.#slowDownTimer = undefined;
        this.#pump();
      }, this.#slowDownMs);
      return;
    }
    this.#outbox.splice(this.#outbox.indexOf(outgoing), 1);
    this.#events.push({ type: "not_sent", text: outgoing.text, reason: error.text });
    this.#progress?.();
    this.#pump();
  }

  /** Sends the next message when nothing is in flight. */
  #pump(): void {
    const head = this.#outbox[0];
    if (!head || head.inFlight || !this.#online || !this.#conn) return;
    if (this.#slowDownTimer !== undefined) return;
    head.inFlight = true;
    this.#write(this.#conn, { type: "message", text: head.text, ref: head.ref });
    // Sending (again, after a pause) is progress for a quit waiting on receipts.
    this.#progress?.();
  }

  #write(conn: Deno.TcpConn, request: ClientRequest): void {
    const bytes = encoder.encode(encodeRequest(request));
    this.#writes = this.#writes.then(async () => {
      let written = 0;
      while (written < bytes.length) written += await conn.write(bytes.subarray(written));
    }).catch(() => {
      // The read side notices the broken connection and reconnects.
      closeQuietly(conn);
    });
  }

  #closeConnection(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#online = false;
    // A message in flight on a lost connection is settled after resuming.
    for (const outgoing of this.#outbox) outgoing.inFlight = false;
    if (this.#conn) closeQuietly(this.#conn);
    this.#conn = null;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#stop.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#stop.signal.addEventListener("abort", done);
    });
  }

  /** Resolves true at the next receipt, failure or reconnection; false after `ms` without any. */
  #waitForProgress(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#progress = null;
        resolve(false);
      }, ms);
      this.#progress = () => {
        clearTimeout(timer);
        this.#progress = null;
        resolve(true);
      };
    });
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** The text lines of `conn`, skipping lines too long to be a sane event. */
async function* lineTexts(conn: Deno.Conn): AsyncGenerator<string> {
  for await (const line of readLines(conn, { maxLineBytes: MAX_SERVER_LINE_BYTES })) {
    if (line.type === "line") yield line.text;
  }
}
