/**
 * Group commit for a store's appends: every message appended in one turn of
 * the event loop, and every message appended while the previous batch was
 * being stored, goes to the store as one batch (one Lua script call, one
 * SQLite transaction), in the order the appends were made.
 *
 * The batch window adapts by itself: when nothing is being stored, a message
 * is committed at the end of the current turn (no timer), so a quiet room
 * pays no latency; under load, batches grow to whatever arrived during one
 * commit, so the number of commits per second stays bounded by the store's
 * round trip instead of growing with the number of messages.
 *
 * A store that applies commits in the order they were started (one Redis
 * connection does) may have more than one in flight: the next batch then
 * goes out while the last one's answer is on its way, instead of waiting a
 * whole round trip.
 *
 * Each append still has its own outcome: it resolves with its stored message,
 * or rejects with the batch's error (a failed batch stored none of its
 * messages). It does not retry, and it knows neither Redis nor SQLite.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { ChatMessage, NewMessage } from "../protocol/model.ts";

/** Stores a batch in order, all or nothing; resolves with the stored messages in the same order. */
export type CommitBatch = (batch: readonly NewMessage[]) => Promise<ChatMessage[]>;

/** Options for {@linkcode AppendBatcher}. */
export interface AppendBatcherOptions {
  /** Most messages in one batch; defaults to 1,000. */
  maxMessages?: number;
  /** Most bytes of message text in one batch (a batch always takes one message); defaults to 1 MiB. */
  maxBytes?: number;
  /**
   * Most commits in flight; defaults to 1. More only for a store that
   * applies commits in the order they were started.
   */
  maxInFlight?: number;
}

interface Waiting {
  message: NewMessage;
  resolve: (stored: ChatMessage) => void;
  reject: (error: unknown) => void;
}

/** Turns single appends into ordered batches, committed in order. */
export class AppendBatcher {
  readonly #commit: CommitBatch;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #maxInFlight: number;
  #waiting: Waiting[] = [];
  #committing = 0;
  #scheduled = false;

  constructor(commit: CommitBatch, options: AppendBatcherOptions = {}) {
    this.#commit = commit;
    this.#maxMessages = options.maxMessages ?? 1_000;
    this.#maxBytes = options.maxBytes ?? 1 << 20;
    this.#maxInFlight = options.maxInFlight ?? 1;
  }

  /** Messages appended and not yet committed (in flight excluded). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Queues `message` for the next batch. Resolves with it as stored, or
   * rejects with the error that failed its batch.
   */
  append(message: NewMessage): Promise<ChatMessage> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ message, resolve, reject });
      this.#schedule();
    });
  }

  /** Commits at the end of this turn, unless all commits are in flight (one commits the rest when done). */
  #schedule(): void {
    if (this.#committing >= this.#maxInFlight || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#commitNext();
    });
  }

  async #commitNext(): Promise<void> {
    if (this.#committing >= this.#maxInFlight || this.#waiting.length === 0) return;
    this.#committing++;
    const batch = this.#take();
    try {
      const stored = await this.#commit(batch.map((waiting) => waiting.message));
      for (const [index, waiting] of batch.entries()) waiting.resolve(stored[index]);
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    } finally {
      this.#committing--;
      // What arrived during the commit waited a whole round trip already.
      if (this.#waiting.length > 0) void this.#commitNext();
    }
  }

  /** The oldest waiting messages, up to the batch limits. */
  #take(): Waiting[] {
    let count = 0;
    let bytes = 0;
    for (const { message } of this.#waiting) {
      bytes += message.text.length + message.user.length;
      if (count > 0 && (count >= this.#maxMessages || bytes > this.#maxBytes)) break;
      count++;
    }
    return this.#waiting.splice(0, count);
  }
}
