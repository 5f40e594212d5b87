/**
 * The one flush scheduler every connection's outbound queue shares: it
 * decides when queued output is written, not what is written or how.
 *
 * Each write costs a runtime op and a syscall, and their number per second
 * is what limits a busy server. So every queue with output is written in one
 * flush, and flushes are spaced by what the last one cost: once it is done,
 * the next waits as long as it took, so that writing takes about half the
 * time however many connections there are (see {@linkcode nextFlushAt}).
 * When writes are cheap, flushes follow each other closely and latency stays
 * low; when the process is busy, each flush carries more and the number of
 * writes falls. Idle, a flush starts at the end of the current turn.
 *
 * A flush counts as done once all but an eighth of its writes are, and no
 * flush is put off longer than `maxDelayMs`: a reader that stops reading
 * holds its own write open, and must not hold back everyone else's.
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
  /** Share of the time the flushes' writes may take, above 0 and at most 1; defaults to 0.5. */
  writeShare?: number;
  /** Longest a flush is put off, in milliseconds; defaults to 50. */
  maxDelayMs?: number;
  /** The clock, in milliseconds; defaults to `performance.now`. */
  now?: () => number;
}

/**
 * When the next flush may start (milliseconds), for a flush that started at
 * `startedAt` and was done at `doneAt`: after a pause that makes its writes
 * `writeShare` of the time.
 *
 * @example
 * ```ts
 * nextFlushAt(100, 112, 0.5); // 124: 12 ms of writing, then 12 ms of rest
 * nextFlushAt(100, 112, 1); // 112: back to back
 * ```
 */
export function nextFlushAt(startedAt: number, doneAt: number, writeShare: number): number {
  return doneAt + (doneAt - startedAt) * (1 / writeShare - 1);
}

/** Starts the writes of every queue with output, spacing flushes by their cost. */
export class FlushScheduler {
  readonly #writeShare: number;
  readonly #maxDelayMs: number;
  readonly #now: () => number;
  #dirty = new Set<Flushable>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #immediate: ReturnType<typeof setImmediate> | undefined;
  /** Numbers the flushes, so that a late write of an earlier one is not counted. */
  #flush = 0;
  #startedAt = -Infinity;
  /** Writes of the last flush still to finish before it counts as done. */
  #unfinished = 0;
  /** When the next flush may start; known once the last one is done. */
  #nextAt = -Infinity;

  constructor(options: FlushSchedulerOptions = {}) {
    this.#writeShare = options.writeShare ?? 0.5;
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
    if (flush !== this.#flush || this.#unfinished === 0 || --this.#unfinished > 0) return;
    this.#nextAt = nextFlushAt(this.#startedAt, this.#now(), this.#writeShare);
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
    const at = this.#unfinished > 0 ? deadline : Math.min(this.#nextAt, deadline);
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
    this.#unfinished = started - Math.floor(started / 8);
    if (this.#unfinished === 0) this.#nextAt = this.#startedAt;
  }
}
