/**
 * The embedded store: history in a SQLite file (through `node:sqlite`) and
 * fan-out inside this process, so the server runs on a bare machine.
 *
 * Same ids and semantics as the Redis store, for one replica only: a second
 * process on the same file would not see the first one's messages live.
 * Appends are group-committed (`append_batcher.ts`): one transaction per batch.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { AppendBatcher } from "./append_batcher.ts";
import {
  type HistorySnapshot,
  type Store,
  type StoreMetrics,
  StoreUnavailableError,
} from "./store.ts";
import {
  type ChatEvent,
  type ChatMessage,
  type HistoryEntry,
  type NewMessage,
  type Notice,
  toChatMessage,
} from "../protocol/model.ts";
import { randomId } from "../util/random_id.ts";

/** Random bytes in a history epoch. */
const EPOCH_BYTES = 16;

/** Options for {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Directory holding the database file; created if missing. */
  dataDir: string;
  /** How many messages are kept. */
  historyLimit: number;
  /** Where failures are counted. */
  metrics?: StoreMetrics;
}

/** History in SQLite, delivered to subscribers in this process. */
export class SqliteStore implements Store {
  readonly description: string;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #trim: StatementSync;
  readonly #newest: StatementSync;
  readonly #lastId: StatementSync;
  readonly #epoch: string;
  readonly #historyLimit: number;
  readonly #metrics: StoreMetrics | undefined;
  readonly #batcher = new AppendBatcher((batch) => this.#commit(batch));
  #listener: ((event: ChatEvent) => void) | null = null;

  private constructor(db: DatabaseSync, path: string, options: SqliteStoreOptions) {
    this.#db = db;
    this.#historyLimit = options.historyLimit;
    this.#metrics = options.metrics;
    this.description = `embedded SQLite at ${path} (single replica only)`;
    this.#insert = db.prepare("INSERT INTO messages (user, text, ts, ref) VALUES (?, ?, ?, ?)");
    this.#trim = db.prepare("DELETE FROM messages WHERE id <= ?");
    this.#newest = db.prepare(
      "SELECT id, user, text, ts, ref FROM (SELECT * FROM messages ORDER BY id DESC LIMIT ?) ORDER BY id",
    );
    this.#lastId = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'messages'");
    const epoch = db.prepare("SELECT value FROM meta WHERE key = 'epoch'").get();
    this.#epoch = String((epoch as { value: string }).value);
  }

  /** Opens (creating when needed) `chat.sqlite` in the data directory. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    await Deno.mkdir(options.dataDir, { recursive: true });
    const path = `${options.dataDir}/chat.sqlite`;
    const db = new DatabaseSync(path);
    // AUTOINCREMENT: ids are never reused, even after old rows are trimmed.
    db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        ref TEXT
      );
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    // The epoch is made with the history: a new or lost database file gets a
    // new one, and so does a database from before epochs existed.
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?)").run(
      randomId(EPOCH_BYTES),
    );
    // Databases made before message refs existed gain the column in place.
    const columns = db.prepare("PRAGMA table_info(messages)").all() as { name: string }[];
    if (!columns.some((column) => column.name === "ref")) {
      db.exec("ALTER TABLE messages ADD COLUMN ref TEXT");
    }
    return new SqliteStore(db, path, options);
  }

  get connected(): boolean {
    return this.#db.isOpen;
  }

  append(message: NewMessage): Promise<ChatMessage> {
    return this.#batcher.append(message);
  }

  /**
   * Stores `batch` in one transaction (one commit, not one per message),
   * then delivers it in id order; see {@linkcode AppendBatcher}.
   */
  #commit(batch: readonly NewMessage[]): Promise<ChatMessage[]> {
    const stored: ChatMessage[] = [];
    try {
      this.#db.exec("BEGIN");
      try {
        for (const message of batch) {
          const id = Number(
            this.#insert.run(message.user, message.text, message.ts, message.ref ?? null)
              .lastInsertRowid,
          );
          const entry: ChatMessage = { id, user: message.user, text: message.text, ts: message.ts };
          if (message.ref !== undefined) entry.ref = message.ref;
          stored.push(entry);
        }
        const last = stored[stored.length - 1].id;
        if (last > this.#historyLimit) this.#trim.run(last - this.#historyLimit);
        this.#db.exec("COMMIT");
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        throw error;
      }
    } catch (error) {
      return Promise.reject(this.#unavailable(error));
    }
    for (const [index, message] of batch.entries()) {
      this.#listener?.({ type: "message", origin: message.origin, ...stored[index] });
    }
    return Promise.resolve(stored);
  }

  publish(notice: Notice): Promise<void> {
    this.#listener?.(notice);
    return Promise.resolve();
  }

  history(limit: number): Promise<HistorySnapshot> {
    try {
      const rows = this.#newest.all(limit);
      const last = this.#lastId.get() as { seq: number } | undefined;
      // Rows go through the same check as Redis entries: SQLite does not
      // hold columns to their types, so a row that is not a message is
      // skipped; a NULL ref becomes no ref.
      const entries: HistoryEntry[] = [];
      for (const row of rows) {
        const message = toChatMessage(row);
        if (message) entries.push({ type: "message", ...message });
      }
      return Promise.resolve({
        entries,
        lastId: Number(last?.seq ?? 0),
        epoch: this.#epoch,
      });
    } catch (error) {
      return Promise.reject(
        this.#unavailable(error),
      );
    }
  }

  #unavailable(error: unknown): StoreUnavailableError {
    this.#metrics?.storeErrors.inc();
    return new StoreUnavailableError(`SQLite: ${(error as Error).message}`, { cause: error });
  }

  subscribe(listener: (event: ChatEvent) => void): Promise<void> {
    this.#listener = listener;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#listener = null;
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }
}
