/**
 * The contract every chat store keeps; the records it stores are in
 * `../protocol/model.ts`.
 *
 * A store persists messages, gives each a strictly increasing id, and delivers
 * every event (messages and notices) to its single subscriber in one order:
 * messages in id order, with no id missing and none twice. Implementations:
 * `redis_store.ts` (many replicas) and `sqlite_store.ts` (one process).
 *
 * @module
 */

import type {
  ChatEvent,
  ChatMessage,
  HistoryEntry,
  NewMessage,
  Notice,
} from "../protocol/model.ts";

/** A consistent view of the newest history. */
export interface HistorySnapshot {
  /** Oldest first. */
  entries: HistoryEntry[];
  /** The id of the newest message stored when the snapshot was taken (0 when none). */
  lastId: number;
  /**
   * The history's epoch: a random id made with the id counter and replaced
   * whenever the history is lost (the counter gone or rolled back), so that
   * ids of a lost history are never taken for ids of this one.
   */
  epoch: string;
}

/** Counters a store reports its faults to. */
export interface StoreMetrics {
  storeErrors: { inc(): void };
  storeReconnects: { inc(): void };
  /** Master changes followed (Redis Sentinel failovers). */
  storeFailovers?: { inc(): void };
}

/** The store cannot be reached or refused an operation; nothing was changed. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** What the server needs from a chat store. */
export interface Store {
  /** One line for the start-up log: which store, and where. */
  readonly description: string;

  /** Whether the store can be used right now (it reconnects by itself when not). */
  readonly connected: boolean;

  /**
   * Persists a message and publishes it, in one step, and returns it with its
   * id. The message reaches subscribers only because it was stored.
   *
   * @throws {StoreUnavailableError} when it could not be stored.
   */
  append(message: NewMessage): Promise<ChatMessage>;

  /** Publishes a join or leave notice to every replica. */
  publish(notice: Notice): Promise<void>;

  /**
   * Reads up to `limit` of the newest entries, with the id of the newest
   * message they include and the history's epoch.
   *
   * @throws {StoreUnavailableError}
   */
  history(limit: number): Promise<HistorySnapshot>;

  /**
   * Starts delivering events to `listener` and resolves once delivery is
   * live. Only one subscriber is supported; the hub is it.
   */
  subscribe(listener: (event: ChatEvent) => void): Promise<void>;

  /** Stops delivery and releases every connection and file. */
  close(): Promise<void>;
}
