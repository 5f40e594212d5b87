/**
 * Accounts of the embedded store: a table `accounts` (folded name, record
 * as JSON) in the same SQLite file as the history, through its own
 * connection. For one replica, like the embedded store itself.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { type Accounts, parseRecord, type PasswordRecord, recordText } from "./accounts.ts";
import { foldName } from "./presence.ts";
import { StoreUnavailableError } from "./store.ts";

/** Registered names in SQLite. Create it with {@linkcode SqliteAccounts.open}. */
export class SqliteAccounts implements Accounts {
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #create: StatementSync;
  readonly #replace: StatementSync;
  readonly #remove: StatementSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#get = db.prepare("SELECT record FROM accounts WHERE name = ?");
    this.#create = db.prepare("INSERT OR IGNORE INTO accounts (name, record) VALUES (?, ?)");
    this.#replace = db.prepare("UPDATE accounts SET record = ? WHERE name = ? AND record = ?");
    this.#remove = db.prepare("DELETE FROM accounts WHERE name = ? AND record = ?");
  }

  /** Opens (creating when needed) the table in `chat.sqlite` of the data directory. */
  static async open(options: { dataDir: string }): Promise<SqliteAccounts> {
    await Deno.mkdir(options.dataDir, { recursive: true });
    const db = new DatabaseSync(`${options.dataDir}/chat.sqlite`);
    // The history's connection may be writing: wait for it rather than fail.
    db.exec(`
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, record TEXT NOT NULL);
    `);
    return new SqliteAccounts(db);
  }

  get(name: string): Promise<PasswordRecord | null> {
    return this.#run(() => {
      const row = this.#get.get(foldName(name)) as { record: string } | undefined;
      return row ? parseRecord(row.record) : null;
    });
  }

  create(name: string, record: PasswordRecord): Promise<boolean> {
    return this.#run(() => this.#create.run(foldName(name), recordText(record)).changes === 1);
  }

  replace(name: string, expected: PasswordRecord, record: PasswordRecord): Promise<boolean> {
    return this.#run(() =>
      this.#replace.run(recordText(record), foldName(name), recordText(expected)).changes === 1
    );
  }

  remove(name: string, expected: PasswordRecord): Promise<boolean> {
    return this.#run(() => this.#remove.run(foldName(name), recordText(expected)).changes === 1);
  }

  close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }

  #run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(
        new StoreUnavailableError(`SQLite accounts: ${(error as Error).message}`, { cause: error }),
      );
    }
  }
}
