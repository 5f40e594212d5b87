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
 * So once sessions have come or gone, the reclaimer waits for `quietMs` in
 * which none came or went and no event was fanned out. If the heap then holds
 * at least `minGrowthBytes` more than after the last collection, it runs one
 * full collection that returns free pages to the system. Any traffic puts it
 * off, so it never pauses a busy room; and smaller bursts are left to V8, as
 * a full collection costs more than a few MiB are worth: it pauses the server
 * (110-170 ms with 5,000 clients connected) and the next seconds of fan-out
 * run slower while V8 warms up again (measured in `docs/bench.md`).
 *
 * It does not decide how to collect: `collect` does that (see
 * {@linkcode exposedCollector}).
 *
 * @module
 */

/** Options for {@linkcode MemoryReclaimer}. */
export interface MemoryReclaimerOptions {
  /** Runs a full, memory-reducing garbage collection. */
  collect: () => void;
  /** The bytes the heap holds; defaults to V8's count of used heap. */
  heapUsed?: () => number;
  /** Growth of the heap since the last collection that is worth one; defaults to 24 MiB. */
  minGrowthBytes?: number;
  /** How long, in ms, nothing may happen before collecting; defaults to 500. */
  quietMs?: number;
  /** Told of each collection: the heap before and after, and how long it took. */
  onCollected?: (report: { beforeBytes: number; afterBytes: number; ms: number }) => void;
}

/** Collects garbage after a burst of sessions, once the server is quiet. */
export class MemoryReclaimer {
  readonly #collect: () => void;
  readonly #heapUsed: () => number;
  readonly #minGrowthBytes: number;
  readonly #quietMs: number;
  readonly #onCollected: MemoryReclaimerOptions["onCollected"];
  /** The heap after the last collection, or the least seen since. */
  #baselineBytes: number;
  /** Counts everything that happens; a timer that finds it unchanged found quiet. */
  #activity = 0;
  #activityWhenArmed = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: MemoryReclaimerOptions) {
    this.#collect = options.collect;
    this.#heapUsed = options.heapUsed ?? (() => Deno.memoryUsage().heapUsed);
    this.#minGrowthBytes = options.minGrowthBytes ?? 24 * 2 ** 20;
    this.#quietMs = options.quietMs ?? 500;
    this.#onCollected = options.onCollected;
    this.#baselineBytes = this.#heapUsed();
  }

  /** A session came or went. */
  churned(): void {
    this.#activity++;
    this.#arm();
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
    const beforeBytes = this.#heapUsed();
    if (beforeBytes - this.#baselineBytes < this.#minGrowthBytes) {
      // V8 may have collected on its own meanwhile: growth counts from the least seen.
      this.#baselineBytes = Math.min(this.#baselineBytes, beforeBytes);
      return;
    }
    const started = performance.now();
    this.#collect();
    const ms = performance.now() - started;
    this.#baselineBytes = this.#heapUsed();
    this.#onCollected?.({ beforeBytes, afterBytes: this.#baselineBytes, ms });
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
