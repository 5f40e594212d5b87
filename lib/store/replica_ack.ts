/**
 * Waiting for replicas (`REDIS_MIN_REPLICAS_ACK`): an append counts as
 * stored only once `WAIT` says enough replicas have it.
 *
 * The append script publishes as it stores, so the subscription may bring a
 * message back before its `WAIT` has returned; a sender would then take its
 * own message coming back as the receipt of something a failover can still
 * lose. So while one of this replica's appends waits for its replicas, the
 * events from the subscription are held, in order, and passed on once it is
 * done. An append that did not reach enough replicas is reported not sent,
 * and its own messages are dropped from what was held: they stay in the
 * history only if the master survives, and are then read back like any
 * missed message.
 *
 * It does not retry, and replicas elsewhere may still show such a message
 * (they cannot tell); the receipt is what it guards.
 *
 * @module
 */

import type { ChatEvent, NewMessage } from "../protocol/model.ts";
import { StoreUnavailableError } from "./store.ts";

/** Sends `WAIT` to the node holding the history; the answer is how many replicas have the writes. */
export type SendWait = (args: string[]) => Promise<number>;

/** Options for {@linkcode ReplicaAck}. */
export interface ReplicaAckOptions {
  /** Replicas that must have an append; 0 turns the wait off. */
  wanted: number;
  /** How long `WAIT` may take, in milliseconds. */
  timeoutMs: number;
  sendWait: SendWait;
  /** Where events go once nothing holds them. */
  deliver: (event: ChatEvent) => void;
}

/** Holds the subscription's events while an append waits for its replicas. */
export class ReplicaAck {
  readonly #options: ReplicaAckOptions;
  #waiting = 0;
  #held: ChatEvent[] = [];
  /** The messages of appends that failed while events were held: not to be delivered. */
  #dropped = new Set<string>();

  constructor(options: ReplicaAckOptions) {
    this.#options = options;
  }

  /** Whether appends wait for replicas at all. */
  get enabled(): boolean {
    return this.#options.wanted > 0;
  }

  /** Passes `event` on, or holds it while an append waits for its replicas. */
  offer(event: ChatEvent): void {
    if (this.#waiting > 0) this.#held.push(event);
    else this.#options.deliver(event);
  }

  /**
   * Runs `append` (which stores `batch`), then waits for the replicas,
   * holding the subscription's events all the while. With the wait off, it
   * only runs `append`.
   *
   * @throws {StoreUnavailableError} when fewer replicas have it in time, or
   * whatever `append` throws; `batch`'s messages are then not delivered here.
   */
  async confirm<T>(batch: readonly NewMessage[], append: () => Promise<T>): Promise<T> {
    const { wanted, timeoutMs, sendWait } = this.#options;
    if (wanted <= 0) return await append();
    this.#waiting++;
    try {
      const result = await append();
      const acked = await sendWait(["WAIT", String(wanted), String(timeoutMs)]);
      if (acked < wanted) {
        throw new StoreUnavailableError(
          `Redis: the append reached ${acked} of ${wanted} replicas within ${timeoutMs} ms`,
        );
      }
      return result;
    } catch (error) {
      for (const message of batch) this.#dropped.add(keyOf(message));
      throw error;
    } finally {
      this.#waiting--;
      if (this.#waiting === 0) this.#release();
    }
  }

  #release(): void {
    const held = this.#held;
    const dropped = this.#dropped;
    this.#held = [];
    this.#dropped = new Set();
    for (const event of held) {
      if (dropped.size > 0 && event.type === "message" && dropped.has(keyOf(event))) continue;
      this.#options.deliver(event);
    }
  }
}

/** What tells a message apart from every other of its connection. */
function keyOf(message: Pick<NewMessage, "origin" | "ts" | "text">): string {
  return JSON.stringify([message.origin, message.ts, message.text]);
}
