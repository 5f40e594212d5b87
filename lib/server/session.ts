/**
 * One client connection, from its first byte to its close: the handshake
 * (see `handshake.ts`), the name claim, the history, then reading requests
 * until the session ends.
 *
 * Everything the client sends goes through the bounded line reader and is
 * sanitised before it is stored. A message is confirmed only by being stored:
 * if the store fails, the client gets an error saying it was not sent.
 * Output goes through the connection's bounded queue, which reports a client
 * that falls too far behind; it is then disconnected instead of slowing
 * anyone down.
 *
 * A session ends one way, whatever the reason (see `session_end.ts`): the
 * first reason given wins, and one method says the last words, counts, logs,
 * leaves the hub, releases the name, announces the leave and closes.
 *
 * @module
 */

import type { Asker } from "./account_desk.ts";
import { AppendPipeline } from "./append_pipeline.ts";
import type { ChatConn } from "./chat_conn.ts";
import type { Frame, FrameRun } from "./frame.ts";
import { handshake, type Identity } from "./handshake.ts";
import type { CachedHistory } from "./history_cache.ts";
import { claimName, replayText } from "./resume.ts";
import type { Member } from "./hub.ts";
import { type Line, LineReader } from "../util/line_reader.ts";
import { OutboundQueue } from "./outbound_queue.ts";
import type { Dialect, Request } from "../protocol/dialect.ts";
import { FloodGuard } from "./flood_guard.ts";
import { endFor, lastWords, recordEnd, type SessionEnd, SlowClientError } from "./session_end.ts";
import { announce, postMessage } from "./room_posts.ts";
import { signIn } from "./sign_in.ts";
import type { HistorySnapshot } from "../store/store.ts";
import type { SessionLimits, SessionOptions } from "./session_options.ts";
import { textDialect } from "../protocol/text_dialect.ts";

/**
 * Silence after which bytes without a line break count as a line: the old
 * Python client sends its name and each message as one write without `\n`.
 */
const UNTERMINATED_LINE_MS = 50;

/**
 * The idle read buffer: most lines fit, a longer one grows it while it
 * streams in (see `line_reader.ts`), and idle connections are most of the
 * server's memory.
 */
const READ_BUFFER_BYTES = 256;

/** How long a leaving client's last output may take to be written. */
const LINGER_MS = 2_000;

/** How long one piece of output the client asked for may take to be read. */
const WRITE_TIMEOUT_MS = 30_000;

/** Most of one client's messages being stored at once (see `append_pipeline.ts`). */
const APPENDS_IN_FLIGHT = 64;

const encoder = new TextEncoder();

/**
 * One connected client, from its first byte to its close; its own hub member.
 *
 * Idle connections are most of the server's memory, so a joined client that
 * sends nothing holds the least that can serve it: {@linkcode run} waits on
 * the connection's own read (no generator, timer or abort listener), and
 * what only a busy or joining client needs is made on first use.
 */
export class Session implements Member {
  readonly #conn: ChatConn;
  readonly #options: SessionOptions;
  /** Unique across replicas: marks this connection's own events and name claim. */
  readonly #origin: string;
  readonly #outbound: OutboundQueue;
  readonly #limits: SessionLimits;
  #flood: FloodGuard | undefined;
  /** While joining: aborted once the session is asked to end, for the waits that listen to it. */
  #stopping: AbortController | undefined;
  #endReason: SessionEnd | null = null;
  /** The one path to the end (see {@linkcode end}), once started. */
  #finishing: Promise<void> | undefined;
  /** Whether {@linkcode run} waits for input with nothing else in flight. */
  #parked = false;
  #dialect: Dialect = textDialect;
  /** The name from the handshake, for the log. */
  #user: string | undefined;
  #joined = false;
  #appends: AppendPipeline | undefined;

  constructor(conn: ChatConn, options: SessionOptions, origin: string) {
    this.#conn = conn;
    this.#options = options;
    this.#origin = origin;
    this.#limits = options.limits;
    this.#outbound = new OutboundQueue(conn, {
      limitBytes: this.#limits.queueLimitBytes,
      softLimitBytes: this.#limits.queueSoftLimitBytes,
      softMs: this.#limits.queueSoftMs,
      scheduler: options.scheduler,
      onError: (error) => this.end({ kind: "peer_gone", error: error.message }),
      onSlow: (reason) => this.end({ kind: "slow_consumer", reason, joined: true }),
    });
  }

  /** The client's address, for the log; not kept, as idle connections dominate memory. */
  get #remote(): string {
    return `${this.#conn.remoteAddr.hostname}:${this.#conn.remoteAddr.port}`;
  }

  /**
   * Ends the session for `reason`, unless it is already ending: no further
   * line is handled, and {@linkcode #finish} says the last words and closes,
   * once what is in flight is done. A session parked on its read is finished
   * from here; closing the connection then ends that read.
   */
  end(reason: SessionEnd): void {
    if (this.#endReason !== null) return;
    this.#endReason = reason;
    this.#stopping?.abort();
    if (this.#parked) this.#finishing = this.#finish(reason);
  }

  /** Serves the connection until the session ends, then closes it and says so to `onEnd`. */
  async run(): Promise<void> {
    const reader = new LineReader(this.#conn, {
      maxLineBytes: this.#limits.maxLineBytes,
      minBufferBytes: READ_BUFFER_BYTES,
      idleFlushMs: UNTERMINATED_LINE_MS,
    });
    let ended: SessionEnd | null;
    try {
      ended = await this.#join(reader);
      // One loop for the joined client, awaiting nothing but the read while idle.
      while (ended === null && this.#endReason === null) {
        const line = reader.take();
        if (line) {
          const handled = this.#handle(line, this.#user!);
          ended = handled instanceof Promise ? await handled : handled;
        } else if (reader.done) {
          ended = { kind: "peer_gone" };
        } else {
          this.#parked = true;
          const outcome = await reader.read();
          this.#parked = false;
          reader.receive(outcome);
        }
      }
    } catch (error) {
      ended = endFor(error as Error);
    }
    this.#parked = false;
    if (ended) this.end(ended);
    this.#finishing ??= this.#finish(this.#endReason!);
    try {
      await this.#finishing;
    } finally {
      this.#options.onEnd(this.#conn);
    }
  }

  /** The stop signal of the waits made while joining. */
  get #signal(): AbortSignal {
    if (this.#stopping === undefined) {
      this.#stopping = new AbortController();
      if (this.#endReason !== null) this.#stopping.abort();
    }
    return this.#stopping.signal;
  }

  /** From the first line to the join announced: null once joined, or how the session ends. */
  async #join(lines: LineReader): Promise<SessionEnd | null> {
    const { hub, history, store, roster, logger } = this.#options;
    const origin = this.#origin;
    const signal = this.#signal;
    const greeted = await handshake(lines, { ...this.#limits, signal });
    if (!("identity" in greeted)) {
      this.#dialect = greeted.dialect;
      return greeted.end;
    }
    const { identity } = greeted;
    const { user } = identity;
    this.#dialect = identity.dialect;
    this.#user = user;
    const reply = (...lines: string[]) => this.#reply(...lines);
    const timeoutMs = this.#limits.handshakeTimeoutMs;
    const io = { lines, dialect: identity.dialect, reply, timeoutMs, signal };
    const held = await signIn(this.#options.desk, this.#asker(user), identity.password, io);
    if (held) return held;
    const claim = await claimName(roster, identity, origin, this.#onNameLost());
    const taken = `the name ${user} is taken by someone online; choose another`;
    if (!claim) return { kind: "refused", error: { code: "name_taken", text: taken } };
    if (claim.takenBack) {
      this.#options.metrics.resumes.name_taken_back.inc();
      logger.info("name taken back", { remote: this.#remote, user });
    }
    // A resume gets every stored message it missed, not only the replay window.
    const limit = identity.since === undefined
      ? this.#limits.historyReplay
      : this.#limits.historyLimit;
    let cached: CachedHistory | null = null;
    await hub.join(
      this,
      () => {
        // Read while the hub buffers for this member: nothing is missed in between. The cache
        // answers joins that need no resume point (text mode); the others read the store.
        cached = identity.resumable ? null : history.read(this.#dialect, limit);
        return cached
          ? Promise.resolve({ entries: [], lastId: cached.lastId, epoch: "" })
          : store.history(limit);
      },
      (snapshot) =>
        cached ? this.#sendBytes(cached.bytes) : this.#sendHistory(snapshot, identity, claim.token),
    );
    this.#joined = true;
    logger.info("joined", { remote: this.#remote, user });
    await this.#announce("join", user);
    // Nothing waits on it any more; an end from now on is seen by `run`'s loop.
    this.#stopping = undefined;
    return null;
  }

  /** What the roster calls if the name claim is lost: made here, so that it holds only `this`. */
  #onNameLost(): () => void {
    return () => this.end({ kind: "name_lost" });
  }

  /** The one way a session ends. */
  async #finish(ended: SessionEnd): Promise<void> {
    // Messages already read are stored (or reported not sent) before the end.
    await this.#appends?.settled();
    const { hub, roster, logger, metrics } = this.#options;
    const fields = { remote: this.#remote, user: this.#user };
    recordEnd(ended, fields, logger, metrics);
    hub.leave(this);
    const words = lastWords(ended, this.#dialect, LINGER_MS);
    if (words?.discardQueued) this.#outbound.discardQueued();
    // Output that could not be written in time is given up: the client is not reading.
    const written = words
      ? await this.#outbound.send(words.bytes, words.timeoutMs)
      : await this.#outbound.drain(LINGER_MS);
    if (!written) this.#close();
    await roster.release(this.#origin);
    if (this.#joined) {
      logger.info("left", fields);
      await this.#announce("leave", this.#user!);
    }
    this.#close();
  }

  #close(): void {
    this.#outbound.close();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Writes output the client asked for, failing if it is not read in time. */
  async #sendBytes(bytes: Uint8Array): Promise<void> {
    const sent = await this.#outbound.send(bytes, WRITE_TIMEOUT_MS, this.#signal);
    if (!sent) throw new SlowClientError(`history not read within ${WRITE_TIMEOUT_MS / 1000} s`);
  }

  async #sendHistory(snapshot: HistorySnapshot, identity: Identity, token?: string): Promise<void> {
    const replay = replayText(this.#dialect, snapshot, identity, this.#limits.historyReplay, token);
    if (replay.outcome) this.#options.metrics.resumes[replay.outcome].inc();
    for (const chunk of replay.chunks) await this.#sendBytes(encoder.encode(chunk));
  }

  /**
   * Handles one line from a joined client; returns why the session ends, if it does. Only lines
   * that wait return a promise: a fast sender sends thousands a second, each promise costs GC time.
   */
  #handle(line: Line, user: string): SessionEnd | null | Promise<SessionEnd | null> {
    const { metrics } = this.#options;
    const request = line.type === "line" ? this.#dialect.parse(line.text) : null;
    if (request?.type === "quit") return { kind: "quit" };
    // Every line costs a token, including ones that are refused or ignored.
    this.#flood ??= new FloodGuard({ rate: this.#limits.rateLimit, burst: this.#limits.rateBurst });
    const verdict = this.#flood.check();
    if (verdict === "disconnect") return { kind: "flooding" };
    if (line.type === "too_long") {
      metrics.messagesReceived.inc();
      metrics.rejected.too_long.inc();
      this.#reply(this.#dialect.error({
        code: "line_too_long",
        text: `line too long (max ${this.#limits.maxLineBytes} bytes); it was not sent`,
      }));
      return null;
    }
    if (request === null) return null;
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
      return null;
    }
    switch (request.type) {
      case "help":
        this.#reply(...this.#dialect.help());
        return null;
      case "ping":
        this.#reply(this.#dialect.pong());
        return null;
      case "who":
        return this.#who().then(() => null);
      case "invalid":
        this.#reply(this.#dialect.error(request.error));
        return null;
      case "message":
        metrics.messagesReceived.inc();
        this.#appends ??= new AppendPipeline(APPENDS_IN_FLIGHT);
        // The next line is read once the append started: at once, unless too many are in flight.
        return this.#appends.add(() => this.#append(request, user))?.then(() => null) ?? null;
      case "account":
        return this.#options.desk.answer(this.#asker(user), request, this.#dialect).then(
          (answer) => {
            this.#reply(answer);
            return null;
          },
        );
    }
  }

  #asker(user: string): Asker {
    return { user, address: this.#conn.remoteAddr.hostname, remote: this.#remote };
  }

  async #who(): Promise<void> {
    try {
      this.#reply(...this.#dialect.who(await this.#options.roster.list()));
    } catch (error) {
      this.#options.logger.warn("who list unavailable", {
        remote: this.#remote,
        user: this.#user,
        error: (error as Error).message,
      });
      this.#reply(this.#dialect.error({
        code: "store_unavailable",
        text: "the chat store is unavailable; try again shortly",
      }));
    }
  }

  /** Stores one message; on failure the client hears it was not sent. Never rejects. */
  async #append(request: Extract<Request, { type: "message" }>, user: string): Promise<void> {
    const { text, ref } = request;
    const post = { user, text, ref, origin: this.#origin };
    if (await postMessage(this.#options, post, this.#remote)) return;
    this.#reply(this.#dialect.error({
      code: "not_sent",
      text: "not sent: the chat store is unavailable; try again shortly",
      ...ref === undefined ? {} : { ref },
    }));
  }

  #announce(type: "join" | "leave", user: string): Promise<void> {
    return announce(this.#options, type, { user, origin: this.#origin, remote: this.#remote });
  }

  /** The bytes {@linkcode deliver} would queue for `frame` (see `hub.ts`). */
  measure(frame: Frame): number {
    return frame.bytes(this.#dialect).length;
  }

  /** Queues one live event or notice from the hub, unless this client does not get it. */
  deliver(frame: Frame): void {
    if (this.#endReason !== null) return;
    const { event } = frame;
    if (event && this.#dialect.skips(event, event.origin === this.#origin)) return;
    const pushed = this.#outbound.push(frame.bytes(this.#dialect));
    if (pushed && event?.type === "message") this.#options.metrics.messagesDelivered.inc();
  }

  /** Queues a run of events as one array, unless this client's own are in it (they may be skipped). */
  deliverRun(run: FrameRun): void {
    if (run.hasOrigin(this.#origin)) return run.frames.forEach((frame) => this.deliver(frame));
    if (this.#endReason !== null || !this.#outbound.push(run.bytes(this.#dialect))) return;
    this.#options.metrics.messagesDelivered.inc(run.messages);
  }

  /** Queues reply lines; past the queue's limit the queue reports the client too slow. */
  #reply(...lines: string[]): void {
    for (const line of lines) {
      if (!this.#outbound.push(encoder.encode(`${line}\n`))) return;
    }
  }
}
