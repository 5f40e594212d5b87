/**
 * The client's outbox: messages typed but not yet confirmed by the server.
 * Each gets a `ref`; it leaves the outbox with its receipt (the server's
 * copy of the message, carrying that `ref`), with an error about it, or at
 * the end, reported as never sent.
 *
 * One message is in flight at a time, so that messages stay in order when
 * the server answers `slow_down` (the same one goes again after a pause that
 * grows while the refusals go on) or when the connection drops before the
 * receipt (after resuming, a receipt found in the missed history settles it;
 * otherwise it goes again).
 *
 * It keeps no time and does no I/O: the connection writes what
 * {@linkcode Outbox.next} hands out, runs the pause timer, and feeds back
 * receipts, errors and drops.
 *
 * @module
 */

import type { ErrorCode } from "../protocol/errors.ts";

/** A message to write: its text and the `ref` its receipt will carry. */
export interface Outgoing {
  readonly ref: string;
  readonly text: string;
}

/** What a server error means for the outbox. */
export type Settlement =
  /** The error is about no message of this outbox. */
  | { type: "unrelated" }
  /** Over the rate limit: send the same message again after `afterMs`, nothing else before. */
  | { type: "retry"; afterMs: number }
  /** The message left the outbox unsent; `text` is what it said. */
  | { type: "not_sent"; text: string };

/** Options for an {@linkcode Outbox}. */
export interface OutboxOptions {
  /** Starts every `ref`, so that refs of different clients differ. Random by default. */
  refPrefix?: string;
  /** First pause after `slow_down`; it doubles while refusals go on, up to 8 times this. */
  slowDownMs: number;
}

// Errors without a `ref` that can only be about the message in flight.
const ABOUT_MESSAGE: ReadonlySet<string> = new Set<ErrorCode>([
  "line_too_long",
  "not_sent",
  "slow_down",
]);

/** The longest pause after `slow_down`, as a multiple of the first. */
const SLOW_DOWN_GROWTH_LIMIT = 8;

interface Entry extends Outgoing {
  /** Written to the current connection, receipt not yet seen. */
  inFlight: boolean;
}

/**
 * Messages waiting for their receipts, in the order they were typed.
 *
 * @example
 * ```ts
 * const outbox = new Outbox({ slowDownMs: 1_000 });
 * outbox.add("hi");
 * const outgoing = outbox.next(); // { ref: "…:1", text: "hi" }: write it
 * outbox.confirm(outgoing!.ref); // its receipt came: true
 * ```
 */
export class Outbox {
  readonly #refPrefix: string;
  readonly #slowDownMs: number;
  #entries: Entry[] = [];
  #count = 0;
  #pauseMs = 0;

  constructor(options: OutboxOptions) {
    this.#refPrefix = options.refPrefix ?? crypto.randomUUID().slice(0, 8);
    this.#slowDownMs = options.slowDownMs;
  }

  /** How many messages have no receipt yet. */
  get size(): number {
    return this.#entries.length;
  }

  /** The texts without a receipt yet, oldest first. */
  texts(): string[] {
    return this.#entries.map((entry) => entry.text);
  }

  /** Adds a message after the others, with a fresh `ref`. */
  add(text: string): void {
    this.#entries.push({ ref: `${this.#refPrefix}:${++this.#count}`, text, inFlight: false });
  }

  /**
   * The message to write now, marked in flight; null when one is in flight
   * already or none waits.
   */
  next(): Outgoing | null {
    const head = this.#entries[0];
    if (!head || head.inFlight) return null;
    head.inFlight = true;
    return { ref: head.ref, text: head.text };
  }

  /**
   * Takes the message with this `ref` out, its receipt having come.
   *
   * @returns false when no message here has that `ref` (a receipt seen twice, or another client's).
   */
  confirm(ref: string): boolean {
    const index = this.#entries.findIndex((entry) => entry.ref === ref);
    if (index === -1) return false;
    this.#entries.splice(index, 1);
    this.#pauseMs = 0;
    return true;
  }

  /** Settles the message an error from the server is about, if it is about one of these. */
  settle(error: { code: string; ref?: string }): Settlement {
    const head = this.#entries[0];
    const entry = error.ref !== undefined
      ? this.#entries.find((candidate) => candidate.ref === error.ref)
      : head?.inFlight && ABOUT_MESSAGE.has(error.code)
      ? head
      : undefined;
    if (!entry) return { type: "unrelated" };
    if (error.code === "slow_down") {
      entry.inFlight = false;
      this.#pauseMs = Math.min(
        this.#slowDownMs * SLOW_DOWN_GROWTH_LIMIT,
        this.#pauseMs * 2 || this.#slowDownMs,
      );
      return { type: "retry", afterMs: this.#pauseMs };
    }
    this.#entries.splice(this.#entries.indexOf(entry), 1);
    return { type: "not_sent", text: entry.text };
  }

  /**
   * The connection dropped: nothing is in flight any more. A message that
   * was is settled by its receipt in the missed history, or written again.
   */
  disconnected(): void {
    for (const entry of this.#entries) entry.inFlight = false;
  }

  /** Empties the outbox for good, returning the texts that got no receipt. */
  drain(): string[] {
    const texts = this.texts();
    this.#entries = [];
    return texts;
  }
}
