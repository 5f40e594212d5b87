/**
 * Each connection's bounded outbound queue and its writer.
 *
 * Lines are queued as bytes (usually shared with every other recipient). A
 * queue writes everything it holds as one write, and only when the shared
 * scheduler says so (see `flush_scheduler.ts`): whatever piles up while a
 * write is in flight waits for the next flush too, so a connection is
 * written at most once per flush however many lines it receives. Output the
 * reader asked for and waits on ({@linkcode OutboundQueue.drain},
 * {@linkcode OutboundQueue.send}) is written without waiting for a flush.
 *
 * The queue counts the bytes it holds, in flight included, and decides when
 * its reader is too slow: past the hard limit {@linkcode OutboundQueue.push}
 * refuses, and a backlog over the soft limit for longer than allowed (like
 * Redis's soft output limit) counts too. It reports "too slow" once; what
 * happens to the connection then is the caller's business. An idle queue
 * holds no timer and no pending promise.
 *
 * @module
 */

import { ConcatMemo } from "../util/bytes.ts";
import { EXPIRED, within } from "../util/deadline.ts";
import type { Flushable, FlushScheduler } from "./flush_scheduler.ts";

/**
 * The batches of all queues: in a busy room most connections are written
 * the same runs of bytes, which are then joined once, not once per
 * connection. Two dialects, and a sender's own batch beside its room's, fit.
 */
const batches = new ConcatMemo(4);

/** Anything with `write` in the shape of `Deno.Conn`. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<number>;
}

/** Options for {@linkcode OutboundQueue}. */
export interface OutboundQueueOptions {
  /** Most bytes held, in flight included, before {@linkcode OutboundQueue.push} refuses. */
  limitBytes: number;
  /** Bytes held that may be passed only for `softMs`; defaults to `limitBytes`. */
  softLimitBytes?: number;
  /** How long, in ms, the backlog may stay over `softLimitBytes`; defaults to forever. */
  softMs?: number;
  scheduler: FlushScheduler;
  /** Called once when a write fails (the peer went away). */
  onError?: (error: Error) => void;
  /**
   * Called once, with the reason, the first time the reader is found too
   * slow: a push past `limitBytes`, or a backlog over `softLimitBytes` for
   * longer than `softMs`.
   */
  onSlow?: (reason: string) => void;
}

/** A bounded queue of bytes for one connection, with its writer loop. */
export class OutboundQueue implements Flushable {
  readonly #sink: ByteSink;
  readonly #options: OutboundQueueOptions;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #writing = false;
  /** The scheduler's number of the flush that started the write in flight; 0 for a drain. */
  #flush = 0;
  /** Waiting for the scheduler's next flush: asked once, not once per push. */
  #scheduled = false;
  /** The writer loop's promise while `#writing`; not kept idle, as idle queues dominate memory. */
  #written: Promise<void> | undefined;
  /** How many callers wait for everything to be written: the writer then does not wait for flushes. */
  #draining = 0;
  #closed = false;
  /** Since when more than the soft limit has been held (performance.now()). */
  #overSoftSince: number | null = null;
  #reportedSlow = false;

  constructor(sink: ByteSink, options: OutboundQueueOptions) {
    this.#sink = sink;
    this.#options = options;
  }

  /** Bytes queued or being written. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues `bytes` for the next batched write. Returns `false`, queueing
   * nothing, when that would pass the limit (the reader is then reported too
   * slow). A closed queue drops silently: its connection is already gone.
   */
  push(bytes: Uint8Array): boolean {
    if (this.#closed) return true;
    const { limitBytes } = this.#options;
    if (this.#bytes + bytes.length > limitBytes) {
      this.#tooSlow(`more than ${limitBytes} bytes waiting to be read`);
      return false;
    }
    this.#chunks.push(bytes);
    this.#bytes += bytes.length;
    if (!this.#writing) this.#schedule();
    this.#checkSoftLimit();
    return true;
  }

  /**
   * Writes `bytes` after everything already queued, past the limit, and
   * resolves once all of it is written. For output the reader asked for and
   * that is written in bounded pieces, such as the history. Resolves `false`
   * if that took longer than `timeoutMs`.
   */
  send(bytes: Uint8Array, timeoutMs = Infinity, signal?: AbortSignal): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    this.#chunks.push(bytes);
    this.#bytes += bytes.length;
    return this.drain(timeoutMs, signal);
  }

  /**
   * Writes everything queued now, without waiting for the timer. Resolves
   * `true` once written, or `false` if `timeoutMs` passed or `signal`
   * aborted first.
   */
  async drain(timeoutMs = Infinity, signal?: AbortSignal): Promise<boolean> {
    if (this.#closed) return false;
    this.startWriting();
    if (!this.#writing) return true;
    this.#draining++;
    const done = (async () => {
      while (this.#writing) await this.#written;
      return !this.#closed;
    })();
    try {
      const result = await within(done, timeoutMs, signal);
      return result !== EXPIRED && result;
    } finally {
      this.#draining--;
    }
  }

  /**
   * Starts the writer if there is output and none is running, for flush
   * number `flush` of the scheduler (0: not for a flush). Returns whether it
   * started.
   */
  startWriting(flush = 0): boolean {
    this.#scheduled = false;
    if (this.#writing || this.#closed || this.#chunks.length === 0) return false;
    this.#writing = true;
    this.#flush = flush;
    this.#written = this.#writeLoop();
    return true;
  }

  /**
   * Drops what is queued but not yet being written, so that a last word to a
   * client that stopped reading is not stuck behind everything it ignored.
   */
  discardQueued(): void {
    for (const chunk of this.#chunks) this.#bytes -= chunk.length;
    this.#chunks = [];
  }

  /** Drops whatever is queued; later output is discarded. */
  close(): void {
    this.#closed = true;
    this.#chunks = [];
    this.#bytes = 0;
  }

  /** A backlog may stay over the soft limit only for `softMs`. */
  #checkSoftLimit(): void {
    const { softLimitBytes = this.#options.limitBytes, softMs = Infinity } = this.#options;
    if (this.#bytes <= softLimitBytes) {
      this.#overSoftSince = null;
      return;
    }
    const now = performance.now();
    this.#overSoftSince ??= now;
    if (now - this.#overSoftSince > softMs) {
      this.#tooSlow(
        `more than ${softLimitBytes} bytes waiting to be read for over ${softMs / 1000} s`,
      );
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#options.scheduler.schedule(this);
  }

  #tooSlow(reason: string): void {
    if (this.#reportedSlow) return;
    this.#reportedSlow = true;
    this.#options.onSlow?.(reason);
  }

  async #writeLoop(): Promise<void> {
    try {
      do {
        const batch = batches.concat(this.#chunks);
        this.#chunks = [];
        let written = 0;
        while (written < batch.length) {
          written += await this.#sink.write(batch.subarray(written));
        }
        if (!this.#closed) this.#bytes -= batch.length;
      } while (this.#draining > 0 && this.#chunks.length > 0 && !this.#closed);
    } catch (error) {
      this.close();
      this.#options.onError?.(error as Error);
    } finally {
      // No await between the last emptiness check and here, so a push can
      // never find the writer "busy" after it has decided to stop.
      this.#writing = false;
      this.#written = undefined;
      if (this.#flush !== 0) this.#options.scheduler.written(this.#flush);
      // What arrived during the write goes out with the next flush.
      if (this.#chunks.length > 0 && !this.#closed) this.#schedule();
    }
  }
}
