/**
 * The client's connection to the chat server in JSON mode, kept alive across
 * drops: it joins, turns the server's lines into {@linkcode ClientEvent}s,
 * sends messages with a `ref` and matches their receipts, and reconnects
 * when the connection is lost.
 *
 * What it guarantees, following `docs/protocol.md`:
 * - No message shown twice or missed across a reconnect: it resumes after
 *   the last id delivered, in the same history epoch, with its resume token
 *   (`resume_point.ts`), and drops any message at or below that id. A
 *   history the server lost is reported (`history_reset`) and shown afresh.
 * - No message lost silently: outgoing messages wait in an {@linkcode Outbox}
 *   and leave it only with their receipt or a `not_sent` event saying why,
 *   in order, one in flight at a time (see `outbox.ts`).
 * - Reconnecting uses exponential backoff with jitter and gives up after the
 *   configured time. `name_taken` while reconnecting is retried (the server
 *   may not have noticed the old connection is gone).
 * - A connection that goes silent is detected with `ping` and dropped.
 *
 * It prints nothing. Each connection is a {@linkcode ServerLink}, joined by `handshake.ts`.
 *
 * @module
 */

import { AsyncQueue } from "../util/async_queue.ts";
import { backoffDelay } from "../util/backoff.ts";
import { EXPIRED, sleep, within } from "../util/deadline.ts";
import { sanitize } from "../util/sanitize.ts";
import { isPermanentRefusal } from "../protocol/errors.ts";
import type { ClientRequest, ServerEvent } from "../protocol/server_events.ts";
import type { ClientEvent, FinishReason } from "./client_event.ts";
import { ConnectError, handshake, RefusedError } from "./handshake.ts";
import { Outbox } from "./outbox.ts";
import { type ResumeFields, ResumePoint } from "./resume_point.ts";
import { ServerLink } from "./server_link.ts";

/** Options for {@linkcode ChatConnection.open}. */
export interface ChatConnectionOptions {
  host: string;
  port: number;
  user: string;
  /** How long to keep reconnecting after a drop; 0 ends at the first drop. */
  reconnectTimeoutMs: number;
  /** Opens the connection (see `transport.ts`); `Deno.connect` by default. */
  connect?: (host: string, port: number) => Promise<Deno.Conn>;
  /** The password of a registered name for the next hello (see `credentials.ts`); none by default. */
  password?: () => string | undefined;
  /** Random numbers in [0, 1) for the jitter; `Math.random` by default. */
  random?: () => number;
  /** First reconnect delay, before jitter. Defaults to 250 ms. */
  initialRetryDelayMs?: number;
  /** Longest reconnect delay. Defaults to 1 s: back within 1 s of the server. */
  maxRetryDelayMs?: number;
  /** Time from connecting to the end of the history. Defaults to 15 s. */
  handshakeTimeoutMs?: number;
  /** Silence after which the server is pinged; twice this drops the connection. Defaults to 20 s. */
  heartbeatMs?: number;
  /**
   * First pause before resending after `slow_down`, doubling up to 8 times this. Defaults to
   * 1 s: at the server's default rate that earns several messages, so refusals stay few.
   */
  slowDownMs?: number;
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
  readonly #options: Required<Omit<ChatConnectionOptions, "password">> & ChatConnectionOptions;
  readonly #events = new AsyncQueue<ClientEvent>();
  readonly #stop = new AbortController();
  readonly #outbox: Outbox;
  #link: ServerLink | null = null;
  #online = false;
  /** Where the next hello resumes. */
  readonly #resume = new ResumePoint();
  /** The server's shutdown notice, which explains the drop that follows it. */
  #shutdown: string | null = null;
  #slowDownTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolved (then replaced) at each receipt, failure, send or reconnection: what `quit` waits on. */
  #progress = Promise.withResolvers<void>();
  #finished: Promise<FinishReason> = Promise.resolve("quit");

  private constructor(options: ChatConnectionOptions) {
    this.#options = {
      connect: (hostname, port) => Deno.connect({ hostname, port }),
      random: Math.random,
      initialRetryDelayMs: 250,
      maxRetryDelayMs: 1_000,
      handshakeTimeoutMs: 15_000,
      heartbeatMs: 20_000,
      slowDownMs: 1_000,
      ...options,
    };
    this.#outbox = new Outbox({ slowDownMs: this.#options.slowDownMs });
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
    this.#outbox.add(clean);
    if (!this.#online) this.#events.push({ type: "queued", text: clean });
    this.#pump();
  }

  /** Sends `request` (`who`, an account request); ignored while disconnected. */
  request(request: ClientRequest): void {
    if (this.#online && this.#link) this.#link.send(request);
  }

  /**
   * Leaves: waits until every message sent so far has its receipt (giving up
   * once nothing has happened for `idleTimeoutMs`), says goodbye and closes.
   * Messages still without a receipt are reported as `not_sent` events.
   *
   * @returns the texts of the messages that were not confirmed.
   */
  async quit(idleTimeoutMs = 5_000): Promise<string[]> {
    while (this.#outbox.size > 0 && !this.#events.closed) {
      if (await within(this.#progress.promise, idleTimeoutMs) === EXPIRED) break;
    }
    const unsent = this.#outbox.texts();
    this.#stop.abort();
    if (this.#online && this.#link) {
      this.#link.send({ type: "quit" });
      await this.#link.flushed();
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
      if (refusal && isPermanentRefusal(refusal.code)) {
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
    for (const text of this.#outbox.drain()) {
      this.#events.push({ type: "not_sent", text, reason: why });
    }
    this.#events.close();
    this.#progressed();
    return reason;
  }

  async #reconnect(deadline: number): Promise<"ok" | FinishReason> {
    const { initialRetryDelayMs, maxRetryDelayMs, random, handshakeTimeoutMs } = this.#options;
    // The first try also waits a little, so that clients dropped together
    // by a restarting server do not all come back at the same instant.
    let delay = Math.min(deadline - Date.now(), random() * initialRetryDelayMs);
    for (let attempt = 1;; attempt++) {
      if (delay > 0) await sleep(delay, this.#stop.signal);
      if (this.#stop.signal.aborted) return "quit";
      if (Date.now() >= deadline) {
        this.#events.push({ type: "gave_up", afterMs: this.#options.reconnectTimeoutMs });
        return "gave_up";
      }
      try {
        let missed = 0;
        await this.#establish(
          this.#resume.hello(),
          Math.min(handshakeTimeoutMs, Math.max(1_000, deadline - Date.now())),
          () => missed++,
        );
        this.#events.push({ type: "reconnected", missed });
        this.#pump();
        return "ok";
      } catch (error) {
        if (this.#stop.signal.aborted) return "quit";
        if (error instanceof RefusedError && isPermanentRefusal(error.code!)) {
          this.#events.push({ type: "refused", code: error.code!, text: error.message });
          return "refused";
        }
        // The wait before the first try was short; the backoff proper
        // starts at the one after it, so that try number n waits as retry n + 1.
        const backoff = backoffDelay(attempt + 1, {
          initialMs: initialRetryDelayMs,
          maxMs: maxRetryDelayMs,
          random,
        });
        delay = Math.min(Math.max(0, deadline - Date.now()), backoff);
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
   * `history_end`, delivering it, all within `timeoutMs`. On success the
   * connection is live.
   */
  async #establish(resume: ResumeFields | undefined, timeoutMs: number, onMessage?: () => void) {
    const { host, port, connect, user } = this.#options;
    const signal = this.#stop.signal;
    const link = await ServerLink.open({ host, port, connect, timeoutMs, signal });
    this.#link = link;
    try {
      if (signal.aborted) throw new ConnectError("leaving");
      const hello = { user, resume, password: this.#options.password?.(), timeoutMs, signal };
      const end = await handshake(link, hello, (event) => {
        if (this.#dispatch(event)) onMessage?.();
      });
      this.#resume.joined(end);
    } catch (error) {
      this.#closeConnection();
      throw error;
    }
    this.#online = true;
    this.#shutdown = null;
    this.#progressed();
  }

  /** Reads live events until the connection ends; returns the fatal error that ended it, if any. */
  async #readLive(): Promise<{ code: string; text: string } | null> {
    const link = this.#link;
    if (!link) return null;
    link.watch(this.#options.heartbeatMs);
    while (true) {
      const event = await link.next();
      if (event === null) return null;
      if (event.type === "error" && event.fatal) return event;
      this.#dispatch(event);
    }
  }

  /** Handles one event; returns true when it was a message shown for the first time. */
  #dispatch(event: ServerEvent): boolean {
    switch (event.type) {
      case "message": {
        if (!this.#resume.advance(event.id)) return false;
        const { type: _, ...message } = event;
        const own = message.user === this.#options.user;
        if (own && message.ref !== undefined) this.#confirm(message.ref);
        this.#events.push({ type: "message", message, own });
        return true;
      }
      case "notice":
        // A shutdown notice is followed by the drop, which reports it.
        if (event.code === "shutdown") this.#shutdown = event.text;
        else if (event.code === "history_reset") {
          // The ids seen belong to a lost history: what is replayed next is all new.
          this.#resume.reset();
          this.#events.push({ type: "history_reset" });
        } else this.#events.push(event);
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
    if (!this.#outbox.confirm(ref)) return;
    this.#progressed();
    this.#pump();
  }

  #serverError(error: Extract<ServerEvent, { type: "error" }>): void {
    const settlement = this.#outbox.settle(error);
    switch (settlement.type) {
      case "unrelated":
        this.#events.push({ type: "server_error", code: error.code, text: error.text });
        return;
      case "retry":
        // Over the rate limit: the same message again after a pause, with
        // nothing else sent meanwhile, so the order stays.
        clearTimeout(this.#slowDownTimer);
        this.#slowDownTimer = setTimeout(() => {
          this.#slowDownTimer = undefined;
          this.#pump();
        }, settlement.afterMs);
        return;
      case "not_sent":
        this.#events.push({ type: "not_sent", text: settlement.text, reason: error.text });
        this.#progressed();
        this.#pump();
    }
  }

  /** Sends the next message when nothing is in flight. */
  #pump(): void {
    if (!this.#online || !this.#link || this.#slowDownTimer !== undefined) return;
    const outgoing = this.#outbox.next();
    if (!outgoing) return;
    this.#link.send({ type: "message", text: outgoing.text, ref: outgoing.ref });
    // Sending (again, after a pause) is progress for a quit waiting on receipts.
    this.#progressed();
  }

  #closeConnection(): void {
    this.#online = false;
    // A message in flight on a lost connection is settled after resuming.
    this.#outbox.disconnected();
    this.#link?.close();
    this.#link = null;
  }

  #progressed(): void {
    this.#progress.resolve();
    this.#progress = Promise.withResolvers<void>();
  }
}
