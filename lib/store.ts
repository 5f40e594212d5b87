/**
 * The contract every chat store keeps, and the record types that cross it.
 *
 * A store persists messages, gives each a strictly increasing id, and delivers
 * every event (messages and notices) to its single subscriber in one order:
 * messages in id order, with no id missing and none twice. Implementations:
 * `redis_store.ts` (many replicas) and `sqlite_store.ts` (one process).
 *
 * @module
 */

/** A stored chat message. */
export interface ChatMessage {
  /** Strictly increasing across the whole history. */
  id: number;
  user: string;
  text: string;
  /** Milliseconds since the Unix epoch, assigned by the server that stored it. */
  ts: number;
  /** The sender's own label for it (JSON mode), so a client can recognise its receipt. */
  ref?: string;
}

/** A history entry: a message, or a plain line written by the old service. */
export type HistoryEntry =
  | ({ type: "message" } & ChatMessage)
  | { type: "legacy"; line: string };

/** A consistent view of the newest history. */
export interface HistorySnapshot {
  /** Oldest first. */
  entries: HistoryEntry[];
  /** The id of the newest message stored when the snapshot was taken (0 when none). */
  lastId: number;
}

/**
 * Something that happened in the room, as delivered to subscribers.
 * `origin` names the connection it came from, so that a text-mode sender can
 * be spared its own echo.
 */
export type ChatEvent =
  | ({ type: "message"; origin: string } & ChatMessage)
  | { type: "join" | "leave"; user: string; ts: number; origin: string };

/** A join or leave notice: published to every replica, never stored. */
export type Notice = Extract<ChatEvent, { type: "join" | "leave" }>;

/** A message about to be stored: everything but the id. */
export type NewMessage = Omit<Extract<ChatEvent, { type: "message" }>, "id" | "type">;

/** Counters a store reports its faults to. */
export interface StoreMetrics {
  storeErrors: { inc(): void };
  storeReconnects: { inc(): void };
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
   * message they include.
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

/**
 * Reads one stored history entry: JSON written by this service, or any other
 * string, which is the old service's `[user]: text` and replayed unchanged.
 */
export function parseEntry(raw: string): HistoryEntry {
  if (raw.startsWith("{")) {
    try {
      const value = JSON.parse(raw);
      if (
        Number.isSafeInteger(value?.id) && typeof value.user === "string" &&
        typeof value.text === "string" && Number.isFinite(value.ts)
      ) {
        const entry: HistoryEntry = {
          type: "message",
          id: value.id,
          user: value.user,
          text: value.text,
          ts: value.ts,
        };
        if (typeof value.ref === "string") entry.ref = value.ref;
        return entry;
      }
    } catch {
      // Not ours after all: replay it as the plain line it is.
    }
  }
  return { type: "legacy", line: raw };
}
