/**
 * The load generator's engine: opens the clients, sends the messages and
 * accounts for every delivery.
 *
 * One run, in three phases:
 * 1. Join: `clients` connections speak the text protocol (a unique name line
 *    `bench-<run>-<i>`, then read up to `HISTORY_END`), at most `concurrency`
 *    of them joining at a time. Connect time is from the start of the TCP
 *    connect to the arrival of `HISTORY_END`.
 * 2. Send: once every client has joined, clients `0 .. senders-1` send
 *    `messages` in total, message `k` from sender `k % senders` with sequence
 *    number `floor(k / senders)`. Each text is
 *    `<sender>:<seq>:<send time> [padding]`, the send time being
 *    `performance.timeOrigin + performance.now()` in ms with 3 decimals: one
 *    process sends and receives, so one clock measures the latency.
 *    With `rate` 0 each sender writes batches back to back (TCP back-pressure
 *    paces it); otherwise one shared 1 ms timer releases the messages due so
 *    far at the aggregate rate, and each sender writes what it was given,
 *    coalescing whatever piles up while a write is in flight.
 * 3. Receive: every client counts the messages of this run by (sender, seq):
 *    new, duplicate or out of order, and records its latency. The text
 *    protocol does not echo a sender's own messages, so `messages * (clients
 *    - 1)` deliveries are expected when every sender is also a receiver.
 *
 * The run ends when every expected delivery has arrived, when `timeoutMs` has
 * passed since it started, or when `signal` aborts; then every connection is
 * closed and the report says what was missing.
 *
 * Cheap on purpose, because it shares the CPU with the server it measures:
 * each client reads into one reusable buffer, lines are found with
 * `indexOf` and parsed from the bytes without decoding, lines are only
 * decoded for error reports, and one timestamp is taken per read, not per
 * line. It does not speak JSON mode, does not reconnect, and does not check
 * message order across senders (the server only promises one order, which
 * per-sender order follows from).
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { LatencyHistogram, summarize, type Summary } from "./stats.ts";

/** What to run. */
export interface LoadOptions {
  /** Server host name or address. */
  host: string;
  /** Server chat port. */
  port: number;
  /** Connections opened, every one of them a receiver. */
  clients: number;
  /** How many of the clients also send (the first ones). */
  senders: number;
  /** Messages sent in total; 0 only measures joining. */
  messages: number;
  /** Aggregate messages per second; 0 sends as fast as the connections take them. */
  rate: number;
  /** Bytes of padding added to each message text. */
  size: number;
  /** The whole run (joining included) stops after this many milliseconds. */
  timeoutMs: number;
  /** Most connections joining at the same time. */
  concurrency: number;
  /** Stops the run early (for example on SIGINT); it then reports what it has. */
  signal?: AbortSignal;
  /** Receives one-line progress notes (phase changes), never per-message output. */
  progress?: (note: string) => void;
}

/** What a run measured. Times are milliseconds; rates are per second. */
export interface LoadReport {
  /** The run's identifier, part of every client name. */
  run: string;
  /** `host:port`. */
  target: string;
  /** Whether every expected delivery arrived, with no duplicate or error. */
  ok: boolean;
  /** How the run ended. */
  ended: "complete" | "timeout" | "aborted" | "join failed";
  connect: {
    /** Clients that received `HISTORY_END`. */
    joined: number;
    /** Clients that could not connect or were turned away. */
    failed: number;
    /** From the first connect to the last join. */
    wallMs: number;
    /** Joins per second over `wallMs`. */
    perSecond: number;
    /** Connect to `HISTORY_END`, per joined client. */
    timeMs: Summary;
    /** How long sending waited after the joins for the join notices to stop arriving. */
    settleMs: number;
  };
  send: {
    /** Messages handed to the sockets. */
    sent: number;
    /** From the start of sending to the end of the last write. */
    wallMs: number;
    /** `sent` per second over `wallMs`. */
    perSecond: number;
  };
  deliveries: {
    /**
     * Deliveries that should arrive: each message sent, at every client but
     * its sender. In a run that was stopped, what was still on its way when
     * it stopped counts as lost.
     */
    expected: number;
    /** Distinct (receiver, sender, seq) deliveries that arrived. */
    received: number;
    /** `expected - received`. */
    lost: number;
    /** Deliveries of a (sender, seq) the receiver already had. */
    duplicates: number;
    /** Deliveries with a lower seq than one already received from that sender. */
    outOfOrder: number;
    /** From the start of sending to the last delivery. */
    wallMs: number;
    /** `received` per second over `wallMs`. */
    perSecond: number;
  };
  /** Send to receipt, per delivery (duplicates included). */
  latencyMs: Summary;
  /**
   * What this process spent from the start of sending to the last delivery:
   * if its CPU time nears the wall time, the generator, not the server, set
   * the pace.
   */
  generator: {
    userCpuMs: number;
    systemCpuMs: number;
    /** Reads that returned data (fewer, larger reads are cheaper). */
    reads: number;
  };
  problems: {
    /** `!` lines the server sent after joining (rate limit, store down, ...). */
    serverErrors: number;
    /** Clients whose connection ended before the run did. */
    disconnected: number;
    /** Lines of this run that could not be parsed, or echoes of a client's own message. */
    malformed: number;
    /** The first problem seen, in words, or `null`. */
    first: string | null;
  };
}

const NEWLINE = 10;
const CR = 13;
const COLON = 58;
const DOT = 46;
const SPACE = 32;
const ZERO = 48;
const CLOSE_BRACKET = 93;

/**
 * Bytes read per `read` call and per client. Large enough that a fast
 * fan-out costs few reads; with 1,000 clients it is 32 MiB in all.
 */
const READ_BUFFER_BYTES = 32 * 1024;

/** A flat-out sender writes about this much per write. */
const SEND_BATCH_CHARS = 16 * 1024;

/** Sending starts once no client has read anything for this long... */
const QUIET_MS = 100;

/** ...or after this long, on a server with other traffic. */
const SETTLE_MAX_MS = 5_000;

/** The paced senders' shared timer period. */
const TICK_MS = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HISTORY_END = encoder.encode("HISTORY_END");

/** Messages sender `s` sends in a run of `messages` from `senders` senders. */
function messagesOf(s: number, messages: number, senders: number): number {
  return s < messages ? Math.floor((messages - 1 - s) / senders) + 1 : 0;
}

/** Wall-clock milliseconds, the same clock in every message and on receipt. */
function clock(): number {
  return performance.timeOrigin + performance.now();
}

/** Everything the clients of one run share and count into. */
class Tally {
  readonly histogram = new LatencyHistogram();
  /** Deliveries still expected from clients that are connected. */
  outstanding = 0;
  received = 0;
  duplicates = 0;
  outOfOrder = 0;
  serverErrors = 0;
  disconnected = 0;
  malformed = 0;
  first: string | null = null;
  lastDeliveryAt = 0;
  /** `performance.now()` of the latest read by any client. */
  lastReadAt = 0;
  /** Reads that returned data, by all clients. */
  reads = 0;
  /** Set once the run stops, so that closing our own sockets is not a disconnect. */
  stopping = false;
  readonly #allReceived = Promise.withResolvers<void>();

  /** Resolves when `outstanding` reaches 0. */
  get allReceived(): Promise<void> {
    return this.#allReceived.promise;
  }

  problem(text: string): void {
    this.first ??= text;
  }

  settle(count: number): void {
    this.outstanding -= count;
    if (this.outstanding <= 0) this.#allReceived.resolve();
  }
}

/** One connection: joins, optionally sends, and counts what it receives. */
class Client {
  readonly index: number;
  readonly name: string;
  /** Deliveries this client should receive. */
  readonly expected: number;
  connectMs = -1;
  #conn: Deno.TcpConn | null = null;
  #reading: Promise<void> = Promise.resolve();
  readonly #tally: Tally;
  readonly #senders: number;
  readonly #messages: number;
  /** `[bench-<run>-`: lines of this run start with it. */
  readonly #prefix: Uint8Array;
  /** One bit per message (`seq * senders + sender`): received yet? */
  readonly #seen: Uint8Array;
  /** Highest seq received per sender, -1 before the first. */
  readonly #lastSeq: Int32Array;
  #unique = 0;
  #joined = false;
  readonly #joinedSignal = Promise.withResolvers<void>();
  #startedAt = 0;
  #skipping = false;
  #lastError: string | null = null;

  constructor(index: number, run: string, options: LoadOptions, tally: Tally, prefix: Uint8Array) {
    this.index = index;
    this.name = `bench-${run}-${index}`;
    this.#tally = tally;
    this.#senders = options.senders;
    this.#messages = options.messages;
    this.#prefix = prefix;
    const own = index < options.senders ? messagesOf(index, options.messages, options.senders) : 0;
    this.expected = options.messages - own;
    this.#seen = new Uint8Array(Math.ceil(options.messages / 8));
    this.#lastSeq = new Int32Array(options.senders).fill(-1);
    // A rejection nobody awaits yet must not crash the run.
    this.#joinedSignal.promise.catch(() => {});
  }

  /** Connects, sends the name and resolves at `HISTORY_END`. */
  async join(host: string, port: number, signal: AbortSignal): Promise<void> {
    this.#startedAt = performance.now();
    const conn = await Deno.connect({ hostname: host, port, signal });
    if (signal.aborted) {
      conn.close();
      throw signal.reason;
    }
    this.#conn = conn;
    // Paced sends are small writes; Nagle's algorithm would hold them back.
    conn.setNoDelay(true);
    this.#reading = this.#readLoop(conn);
    await this.#write(encoder.encode(`${this.name}\n`));
    await this.#joinedSignal.promise;
  }

  /**
   * Writes `text` in full. Returns false, noting the problem unless the run
   * is stopping, when the connection fails.
   */
  async send(text: string): Promise<boolean> {
    try {
      await this.#write(encoder.encode(text));
      return true;
    } catch (error) {
      if (!this.#tally.stopping) {
        this.#tally.problem(`${this.name} could not send: ${(error as Error).message}`);
      }
      return false;
    }
  }

  /** Closes the connection now; pending reads and writes end. */
  disconnect(): void {
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
  }

  /** Closes the connection and waits for its reader to stop. */
  async close(): Promise<void> {
    this.disconnect();
    await this.#reading;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    const conn = this.#conn!;
    let written = 0;
    while (written < bytes.length) written += await conn.write(bytes.subarray(written));
  }

  async #readLoop(conn: Deno.TcpConn): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    let kept = 0;
    let ending = "the server closed the connection";
    try {
      for (;;) {
        const n = await conn.read(buffer.subarray(kept));
        if (n === null) break;
        const now = clock();
        this.#tally.lastReadAt = now - performance.timeOrigin;
        this.#tally.reads++;
        kept = this.#scan(buffer, kept + n, now);
      }
    } catch (error) {
      ending = (error as Error).message;
    }
    try {
      conn.close();
    } catch {
      // Closed by close() already.
    }
    if (!this.#joined) {
      this.#joinedSignal.reject(new Error(`${this.name}: ${this.#lastError ?? ending}`));
      return;
    }
    if (this.#tally.stopping) return;
    this.#tally.disconnected++;
    this.#tally.problem(`${this.name} disconnected: ${this.#lastError ?? ending}`);
    this.#tally.settle(this.expected - this.#unique);
  }

  /**
   * Handles the complete lines in `buffer[0, end)` that arrived at `now`,
   * moves an incomplete last line to the front and returns its length.
   */
  #scan(buffer: Uint8Array, end: number, now: number): number {
    let start = 0;
    if (this.#skipping) {
      const newline = buffer.indexOf(NEWLINE);
      if (newline === -1 || newline >= end) return 0;
      this.#skipping = false;
      start = newline + 1;
    }
    for (;;) {
      const newline = buffer.indexOf(NEWLINE, start);
      if (newline === -1 || newline >= end) break;
      const stop = newline > start && buffer[newline - 1] === CR ? newline - 1 : newline;
      if (this.#joined) this.#line(buffer, start, stop, now);
      else this.#historyLine(buffer, start, stop);
      start = newline + 1;
    }
    if (start === 0 && end === buffer.length) {
      // A line longer than the buffer (an old history entry): not ours, drop it.
      this.#skipping = true;
      return 0;
    }
    buffer.copyWithin(0, start, end);
    return end - start;
  }

  /** A line before live delivery: history, or `HISTORY_END`, or an error. */
  #historyLine(buffer: Uint8Array, start: number, stop: number): void {
    if (stop - start === HISTORY_END.length && startsWith(buffer, start, HISTORY_END)) {
      this.#joined = true;
      this.connectMs = performance.now() - this.#startedAt;
      this.#joinedSignal.resolve();
    } else if (buffer[start] === 33 /* ! */) {
      this.#lastError = decoder.decode(buffer.subarray(start, stop));
    }
  }

  /** A live line: a message of this run is counted, anything else skipped. */
  #line(buffer: Uint8Array, start: number, stop: number, now: number): void {
    const tally = this.#tally;
    if (buffer[start] === 33 /* ! */) {
      tally.serverErrors++;
      this.#lastError = decoder.decode(buffer.subarray(start, stop));
      tally.problem(`${this.name} got ${this.#lastError}`);
      return;
    }
    const prefix = this.#prefix;
    if (!startsWith(buffer, start, prefix)) return;
    // `[bench-<run>-<i>]: <sender>:<seq>:<ms>.<fraction>[ padding]`
    let i = start + prefix.length;
    while (i < stop && buffer[i] !== CLOSE_BRACKET) i++;
    i += 3; // "]: "
    let sender = 0;
    let digits = 0;
    for (; i < stop && buffer[i] !== COLON; i++, digits++) sender = sender * 10 + buffer[i] - ZERO;
    let seq = 0;
    for (i++; i < stop && buffer[i] !== COLON; i++, digits++) seq = seq * 10 + buffer[i] - ZERO;
    let sentAt = 0;
    for (i++; i < stop && buffer[i] !== DOT && buffer[i] !== SPACE; i++, digits++) {
      sentAt = sentAt * 10 + buffer[i] - ZERO;
    }
    if (buffer[i] === DOT) {
      let scale = 0.1;
      for (i++; i < stop && buffer[i] !== SPACE; i++, scale /= 10) {
        sentAt += (buffer[i] - ZERO) * scale;
      }
    }
    const k = seq * this.#senders + sender;
    if (
      !(digits >= 3 && sender < this.#senders && k < this.#messages && sentAt > 0) ||
      sender === this.index
    ) {
      tally.malformed++;
      tally.problem(`${this.name} got ${decoder.decode(buffer.subarray(start, stop))}`);
      return;
    }
    tally.histogram.record(now - sentAt);
    tally.lastDeliveryAt = now;
    const bit = 1 << (k & 7);
    if (this.#seen[k >>> 3] & bit) {
      tally.duplicates++;
      return;
    }
    this.#seen[k >>> 3] |= bit;
    if (seq < this.#lastSeq[sender]) tally.outOfOrder++;
    else this.#lastSeq[sender] = seq;
    this.#unique++;
    tally.received++;
    tally.settle(1);
  }
}

/** Whether `bytes` appear in `buffer` at `offset`. */
function startsWith(buffer: Uint8Array, offset: number, bytes: Uint8Array): boolean {
  if (offset + bytes.length > buffer.length) return false;
  for (let j = 0; j < bytes.length; j++) {
    if (buffer[offset + j] !== bytes[j]) return false;
  }
  return true;
}

/**
 * Runs the load described by `options` and reports what it measured. It
 * never throws for what the server does (refusals, disconnects, losses are
 * in the report); it closes every connection it opened before returning.
 */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const run = crypto.randomUUID().slice(0, 8);
  const tally = new Tally();
  const prefix = encoder.encode(`[bench-${run}-`);
  const clients = Array.from(
    { length: options.clients },
    (_, i) => new Client(i, run, options, tally, prefix),
  );
  tally.outstanding = clients.reduce((sum, client) => sum + client.expected, 0);

  // Stopping closes every connection at once, which also ends pending
  // connects, reads and writes, so nothing waits past the deadline.
  const stop = new AbortController();
  const state: { ended: LoadReport["ended"] } = { ended: "complete" };
  const halt = (ended: LoadReport["ended"], reason: string) => {
    if (stop.signal.aborted) return;
    state.ended = ended;
    stop.abort(new Error(reason));
  };
  const stopped = new Promise<void>((resolve) => {
    stop.signal.addEventListener("abort", () => {
      tally.stopping = true;
      for (const client of clients) client.disconnect();
      resolve();
    }, { once: true });
  });
  const timer = setTimeout(
    () => halt("timeout", `timed out after ${options.timeoutMs / 1000} s`),
    options.timeoutMs,
  );
  const onAbort = () => halt("aborted", "aborted");
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const send = { sent: 0, wallMs: 0 };
  let receiveWallMs = 0;
  let connect = { joined: 0, failed: 0, wallMs: 0 };
  let settleMs = 0;
  const generator = { userCpuMs: 0, systemCpuMs: 0, reads: 0 };
  try {
    connect = await joinAll(clients, options, stop.signal, tally);
    if (connect.failed > 0) halt("join failed", `${connect.failed} clients did not join`);
    if (!stop.signal.aborted && options.messages > 0) {
      settleMs = await settle(tally, stopped);
      options.progress?.(
        `${connect.joined} clients joined; sending ${options.messages} messages from ` +
          `${options.senders} senders ${
            options.rate > 0 ? `at ${options.rate}/s in all` : "as fast as possible"
          }`,
      );
      const startedAt = clock();
      const cpuBefore = cpuUsage();
      const readsBefore = tally.reads;
      const sending = sendAll(clients.slice(0, options.senders), options, stop.signal, send);
      await Promise.race([tally.allReceived, stopped]);
      await sending;
      const cpu = cpuUsage(cpuBefore);
      generator.userCpuMs = round(cpu.user / 1000);
      generator.systemCpuMs = round(cpu.system / 1000);
      generator.reads = tally.reads - readsBefore;
      if (tally.lastDeliveryAt > 0) receiveWallMs = tally.lastDeliveryAt - startedAt;
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    if (!stop.signal.aborted) stop.abort(new Error("the run is over"));
    await Promise.all(clients.map((client) => client.close()));
  }

  const { ended } = state;
  const expected = send.sent * (clients.length - 1);
  const lost = expected - tally.received;
  return {
    run,
    target: `${options.host}:${options.port}`,
    ok: ended === "complete" && lost === 0 && tally.duplicates === 0 &&
      tally.outOfOrder === 0 && tally.serverErrors === 0 && tally.disconnected === 0 &&
      tally.malformed === 0,
    ended,
    connect: {
      joined: connect.joined,
      failed: connect.failed,
      wallMs: round(connect.wallMs),
      perSecond: perSecond(connect.joined, connect.wallMs),
      timeMs: summarize(clients.filter((c) => c.connectMs >= 0).map((c) => c.connectMs)),
      settleMs: round(settleMs),
    },
    send: {
      sent: send.sent,
      wallMs: round(send.wallMs),
      perSecond: perSecond(send.sent, send.wallMs),
    },
    deliveries: {
      expected,
      received: tally.received,
      lost,
      duplicates: tally.duplicates,
      outOfOrder: tally.outOfOrder,
      wallMs: round(receiveWallMs),
      perSecond: perSecond(tally.received, receiveWallMs),
    },
    latencyMs: tally.histogram.summary(),
    generator,
    problems: {
      serverErrors: tally.serverErrors,
      disconnected: tally.disconnected,
      malformed: tally.malformed,
      first: tally.first,
    },
  };
}

/** Joins every client, `concurrency` at a time; stops starting new ones on abort. */
async function joinAll(
  clients: Client[],
  options: LoadOptions,
  signal: AbortSignal,
  tally: Tally,
): Promise<{ joined: number; failed: number; wallMs: number }> {
  options.progress?.(
    `joining ${clients.length} clients to ${options.host}:${options.port}, ` +
      `${Math.min(options.concurrency, clients.length)} at a time`,
  );
  const started = performance.now();
  let next = 0;
  let joined = 0;
  let failed = 0;
  const worker = async () => {
    while (next < clients.length && !signal.aborted) {
      const client = clients[next++];
      try {
        await client.join(options.host, options.port, signal);
        joined++;
      } catch (error) {
        failed++;
        tally.problem(`${client.name} did not join: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, clients.length) }, worker));
  return { joined, failed, wallMs: performance.now() - started };
}

/**
 * Waits until no client has read anything for {@linkcode QUIET_MS}, at most
 * {@linkcode SETTLE_MAX_MS}, and returns how long that took. Every join is
 * announced to everyone already there, so 1,000 joins leave about 500,000
 * notice lines on their way; messages sent before they are delivered would
 * measure that backlog, not the steady state.
 */
async function settle(tally: Tally, stopped: Promise<void>): Promise<number> {
  const started = performance.now();
  let wait = QUIET_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  for (;;) {
    const tick = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), wait));
    if (!await Promise.race([tick, stopped.then(() => false)])) break;
    const now = performance.now();
    const quietFor = now - tally.lastReadAt;
    if (quietFor >= QUIET_MS || now - started >= SETTLE_MAX_MS) break;
    wait = Math.min(QUIET_MS - quietFor, SETTLE_MAX_MS - (now - started));
  }
  clearTimeout(timer);
  return performance.now() - started;
}

/**
 * Sends every message from `senders`, counting into `progress` the messages
 * handed to the sockets and the time the last write completed. Resolves when
 * all are written, or soon after `signal` aborts (the connections are closed
 * then, which ends pending writes).
 */
async function sendAll(
  senders: Client[],
  options: LoadOptions,
  signal: AbortSignal,
  progress: { sent: number; wallMs: number },
): Promise<void> {
  const started = performance.now();
  const padding = options.size > 0 ? ` ${"x".repeat(options.size)}` : "";
  const written = () => progress.wallMs = performance.now() - started;

  if (options.rate === 0) {
    // Flat out: each sender writes batches back to back, stamped when built.
    await Promise.all(senders.map(async (sender, s) => {
      const count = messagesOf(s, options.messages, senders.length);
      let seq = 0;
      while (seq < count && !signal.aborted) {
        const stamp = clock().toFixed(3);
        let batch = "";
        for (; seq < count && batch.length < SEND_BATCH_CHARS; seq++, progress.sent++) {
          batch += `${s}:${seq}:${stamp}${padding}\n`;
        }
        if (!await sender.send(batch)) return;
        written();
      }
    }));
    return;
  }

  // Paced: one timer releases the messages due so far; message k goes to
  // sender k % senders. A sender whose write is in flight keeps new lines
  // pending and writes them all in its next write.
  const pending: string[] = senders.map(() => "");
  const lines: number[] = senders.map(() => 0);
  const writing: boolean[] = senders.map(() => false);
  const inFlight = new Set<Promise<void>>();
  const flush = (s: number) => {
    if (writing[s] || pending[s] === "") return;
    writing[s] = true;
    const done = (async () => {
      while (pending[s] !== "" && !signal.aborted) {
        const text = pending[s];
        pending[s] = "";
        progress.sent += lines[s];
        lines[s] = 0;
        if (!await senders[s].send(text)) break;
        written();
      }
      writing[s] = false;
    })();
    inFlight.add(done);
    done.then(() => inFlight.delete(done));
  };
  let issued = 0;
  const { promise: released, resolve: releasedAll } = Promise.withResolvers<void>();
  const tick = () => {
    const due = Math.min(
      options.messages,
      Math.floor(((performance.now() - started) * options.rate) / 1000) + 1,
    );
    if (due > issued && !signal.aborted) {
      const stamp = clock().toFixed(3);
      for (; issued < due; issued++) {
        const s = issued % senders.length;
        pending[s] += `${s}:${Math.floor(issued / senders.length)}:${stamp}${padding}\n`;
        lines[s]++;
      }
      for (let s = 0; s < senders.length; s++) flush(s);
    }
    if (issued >= options.messages || signal.aborted) {
      clearInterval(interval);
      signal.removeEventListener("abort", tick);
      releasedAll();
    }
  };
  const interval = setInterval(tick, TICK_MS);
  signal.addEventListener("abort", tick);
  tick();
  await released;
  while (inFlight.size > 0) await Promise.all(inFlight);
}

function perSecond(count: number, ms: number): number {
  return ms > 0 ? Math.round((count * 1000) / ms) : 0;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
