/**
 * The one flush scheduler every connection's outbound queue shares: it
 * decides when queued output is written, not what is written or how.
 *
 * Each write costs a runtime op and a syscall, and their number per second
 * is what limits a busy server. So every queue with output is written in one
 * flush, and a flush starts only once the last one is done: whatever arrives
 * meanwhile waits for it, and goes out with everything else that arrived.
 * Busy, the server writes back to back, like a C daemon's event loop, and
 * each flush carries more; idle, a flush starts at the end of the current
 * turn, so a quiet room waits for nothing.
 *
 * A flush is done when all its writes are. A reader that stops reading holds
 * its own write open, and must not hold back everyone else's: once all but an
 * eighth are done, the rest get as long again as an eighth took so far (see
 * {@linkcode flushDoneAt}), and no flush is put off longer than `maxDelayMs`.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";

/** A queue as the scheduler sees it. */
export interface Flushable {
  /**
   * Starts writing what the queue holds, unless it has nothing or is
   * writing already. Returns whether it started; a started write is reported
   * with {@linkcode FlushScheduler.written} and this `flush` number.
   */
  startWriting(flush: number): boolean;
}

/** Options for {@linkcode FlushScheduler}. */
export interface FlushSchedulerOptions {
  /** Longest a flush is put off, in milliseconds; defaults to 50. */
  maxDelayMs?: number;
  /** The clock, in milliseconds; defaults to `performance.now`. */
  now?: () => number;
}

/**
 * When a flush that started at `startedAt` counts as done (milliseconds),
 * seen at `now` with `left` of its `started` writes still out: now, when
 * none is; otherwise after as long again as those that are done took per
 * write, for each one left.
 *
 * @example
 * ```ts
 * flushDoneAt(100, 114, 8, 0); // 114: every write is done
 * flushDoneAt(100, 114, 8, 1); // 116: seven writes took 14 ms, one is left
 * ```
 */
export function flushDoneAt(startedAt: number, now: number, started: number, left: number): number {
  return left === 0 ? now : now + (now - startedAt) * left / (started - left);
}

/** Starts the writes of every queue with output, one flush after another. */
export class FlushScheduler {
  readonly #maxDelayMs: number;
  readonly #now: () => number;
  #dirty = new Set<Flushable>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #immediate: ReturnType<typeof setImmediate> | undefined;
  /** Numbers the flushes, so that a late write of an earlier one is not counted. */
  #flush = 0;
  #startedAt = -Infinity;
  /** Writes the last flush started, and how many of them are still to finish. */
  #started = 0;
  #unfinished = 0;
  /** How many of the last flush's writes may still be out when the next starts. */
  #stragglers = 0;
  /** When the next flush may start; known once the last one is done. */
  #nextAt = -Infinity;

  constructor(options: FlushSchedulerOptions = {}) {
    this.#maxDelayMs = options.maxDelayMs ?? 50;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Asks for `queue` to be written at the next flush. */
  schedule(queue: Flushable): void {
    this.#dirty.add(queue);
    this.#arm();
  }

  /** Reports that a write started by flush number `flush` finished, or failed. */
  written(flush: number): void {
    if (flush !== this.#flush || this.#unfinished === 0) return;
    const left = --this.#unfinished;
    if (left > 0 && left !== this.#stragglers) return;
    this.#nextAt = flushDoneAt(this.#startedAt, this.#now(), this.#started, left);
    // The flush waiting for this one may now start sooner than its deadline.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dirty.size > 0) this.#arm();
  }

  /** Writes everything scheduled now and stops the timer. */
  flushNow(): void {
    this.#run();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#immediate !== undefined) return;
    const deadline = this.#startedAt + this.#maxDelayMs;
    const at = this.#unfinished > this.#stragglers ? deadline : Math.min(this.#nextAt, deadline);
    const delay = at - this.#now();
    // A timer cannot fire sooner than about a millisecond; the end of this turn can.
    if (delay < 1) this.#immediate = setImmediate(() => this.#run());
    else this.#timer = setTimeout(() => this.#run(), delay);
  }

  #run(): void {
    clearTimeout(this.#timer);
    clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
    const dirty = this.#dirty;
    this.#dirty = new Set();
    const flush = ++this.#flush;
    this.#startedAt = this.#now();
    let started = 0;
    for (const queue of dirty) if (queue.startWriting(flush)) started++;
    this.#started = this.#unfinished = started;
    this.#stragglers = Math.floor(started / 8);
    if (this.#unfinished === 0) this.#nextAt = this.#startedAt;
  }
}
