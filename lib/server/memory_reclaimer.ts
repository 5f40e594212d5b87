/**
 * Gives back the memory a burst of connections left behind, once the server
 * is quiet again.
 *
 * Thousands of sessions coming or going in a short time leave V8's old
 * generation full of garbage: what each handshake, join and notice made
 * lived through a few young collections while the burst went on. V8 frees it
 * only when it next needs the room, so a server that took 5,000 joins and
 * then went quiet kept about twice the heap its connections needed (see
 * `docs/bench.md`).
 *
 * So after at least `minChurn` sessions came or went, the reclaimer waits
 * for `quietMs` in which none came or went and no event was fanned out, and
 * then runs one full collection that returns free pages to the system. Any
 * traffic puts it off, so it never pauses a busy room; and it runs at most
 * once per `minChurn` sessions.
 *
 * It does not measure memory or decide how to collect: `collect` does that
 * (see {@linkcode exposedCollector}).
 *
 * @module
 */

/** Options for {@linkcode MemoryReclaimer}. */
export interface MemoryReclaimerOptions {
  /** Runs a full, memory-reducing garbage collection. */
  collect: () => void;
  /** Sessions that come or go before a collection is worth its pause; defaults to 1,000. */
  minChurn?: number;
  /** How long, in ms, nothing may happen before collecting; defaults to 500. */
  quietMs?: number;
  /** Told of each collection: the churn that led to it and how long it took. */
  onCollected?: (report: { churn: number; ms: number }) => void;
}

/** Collects garbage after a burst of sessions, once the server is quiet. */
export class MemoryReclaimer {
  readonly #collect: () => void;
  readonly #minChurn: number;
  readonly #quietMs: number;
  readonly #onCollected: MemoryReclaimerOptions["onCollected"];
  /** Sessions that came or went since the last collection. */
  #churn = 0;
  /** Counts everything that happens; a timer that finds it unchanged found quiet. */
  #activity = 0;
  #activityWhenArmed = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: MemoryReclaimerOptions) {
    this.#collect = options.collect;
    this.#minChurn = options.minChurn ?? 1_000;
    this.#quietMs = options.quietMs ?? 500;
    this.#onCollected = options.onCollected;
  }

  /** A session came or went. */
  churned(): void {
    this.#churn++;
    this.#activity++;
    if (this.#churn >= this.#minChurn) this.#arm();
  }

  /** Something happened that a collection must not pause, such as an event fanned out. */
  busy(): void {
    this.#activity++;
  }

  /** Stops waiting; nothing is collected from now on. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#activityWhenArmed = this.#activity;
    this.#timer = setTimeout(() => this.#check(), this.#quietMs);
  }

  #check(): void {
    this.#timer = undefined;
    if (this.#activity !== this.#activityWhenArmed) return this.#arm();
    const churn = this.#churn;
    this.#churn = 0;
    const started = performance.now();
    this.#collect();
    this.#onCollected?.({ churn, ms: performance.now() - started });
  }
}

/**
 * V8's own collector when the process was started with
 * `--v8-flags=--expose-gc`, asked for its most thorough, memory-reducing
 * collection; `undefined` without the flag.
 */
export function exposedCollector(): (() => void) | undefined {
  const gc = (globalThis as { gc?: (options?: object) => void }).gc;
  if (typeof gc !== "function") return undefined;
  return () => gc({ type: "major", execution: "sync", flavor: "last-resort" });
}
