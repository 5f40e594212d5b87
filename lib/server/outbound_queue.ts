/**
 * Each connection's bounded outbound queue and its writer, plus the one
 * flush timer all connections share.
 *
 * Lines are queued as bytes (usually shared with every other recipient). The
 * writer sends everything queued as one write, and whatever piles up while a
 * write is in flight goes out as the next single write: a fast reader gets
 * one write per burst instead of one per line. Starting writes from one short
 * shared timer, instead of at once, batches the output of all connections
 * (each write costs a syscall). The queue counts the bytes it holds, in flight
 * included, and decides when its reader is too slow: past the hard limit
 * {@linkcode OutboundQueue.push} refuses, and a backlog over the soft limit
 * for longer than allowed (like Redis's soft output limit) counts too. It
 * reports "too slow" once; what happens to the connection then is the
 * caller's business.
 *
 * @module
 */

import { concat } from "../util/bytes.ts";
import { EXPIRED, within } from "../util/deadline.ts";

/** Anything with `write` in the shape of `Deno.Conn`. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<number>;
}

/** Starts the writes of every queue that has output, on one shared timer. */
export class FlushScheduler {
  readonly #delayMs: number;
  #dirty = new Set<OutboundQueue>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param delayMs How long output may wait to be batched. */
  constructor(delayMs = 2) {
    this.#delayMs = delayMs;
  }

  /** Asks for `queue` to be written at the next tick of the timer. */
  schedule(queue: OutboundQueue): void {
    this.#dirty.add(queue);
    this.#timer ??= setTimeout(() => this.#run(), this.#delayMs);
  }

  /** Writes everything scheduled now and stops the timer. */
  flushNow(): void {
    clearTimeout(this.#timer);
    this.#run();
  }

  #run(): void {
    this.#timer = undefined;
    const dirty = this.#dirty;
    this.#dirty = new Set();
    for (const queue of dirty) queue.startWriting();
  }
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
export class OutboundQueue {
  readonly #sink: ByteSink;
  readonly #options: OutboundQueueOptions;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #writing = false;
  #written: Promise<void> = Promise.resolve();
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
    if (!this.#writing) this.#options.scheduler.schedule(this);
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
    const done = (async () => {
      while (this.#writing) await this.#written;
      return !this.#closed;
    })();
    const result = await within(done, timeoutMs, signal);
    return result !== EXPIRED && result;
  }

  /** Starts the writer if there is output and none is running. */
  startWriting(): void {
    if (this.#writing || this.#closed || this.#chunks.length === 0) return;
    this.#writing = true;
    this.#written = this.#writeLoop();
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

  #tooSlow(reason: string): void {
    if (this.#reportedSlow) return;
    this.#reportedSlow = true;
    this.#options.onSlow?.(reason);
  }

  async #writeLoop(): Promise<void> {
    try {
      while (this.#chunks.length > 0 && !this.#closed) {
        const batch = concat(this.#chunks);
        this.#chunks = [];
        let written = 0;
        while (written < batch.length) {
          written += await this.#sink.write(batch.subarray(written));
        }
        if (!this.#closed) this.#bytes -= batch.length;
      }
    } catch (error) {
      this.close();
      this.#options.onError?.(error as Error);
    } finally {
      // No await between the last emptiness check and here, so a push can
      // never find the writer "busy" after it has decided to stop.
      this.#writing = false;
    }
  }
}
