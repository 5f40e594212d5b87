/**
 * The accounts contract: which names are registered, and the password hash
 * of each. A name is registered under its folded form (`presence.ts`'s
 * {@linkcode foldName}), so "Alice" and "alice" are one account, as they
 * are one name online.
 *
 * Stores keep hashes they are given and compare records they are given;
 * they never see a password and do no hashing (`server/passwords.ts` does).
 * Every change is conditional on what the caller last read, so that two
 * replicas changing one account at once cannot both win.
 * Implementations: `sqlite_accounts.ts` and `redis_accounts.ts`.
 *
 * @module
 */

/**
 * A stored password hash with everything needed to check a password
 * against it, so that the parameters can be raised later without
 * invalidating older records.
 */
export interface PasswordRecord {
  alg: "scrypt";
  /** scrypt's cost (a power of two), block size and parallelism. */
  N: number;
  r: number;
  p: number;
  /** Base64 of the random per-account salt. */
  salt: string;
  /** Base64 of the derived key. */
  hash: string;
}

/** The registered names of the chat. */
export interface Accounts {
  /**
   * The record of `name`, or null when it is not registered.
   *
   * @throws {StoreUnavailableError}
   */
  get(name: string): Promise<PasswordRecord | null>;
  /**
   * Registers `name` with `record`.
   *
   * @returns false, changing nothing, when the name is registered already.
   * @throws {StoreUnavailableError}
   */
  create(name: string, record: PasswordRecord): Promise<boolean>;
  /**
   * Replaces the record of `name` with `record`, if it still is `expected`.
   *
   * @returns false, changing nothing, when it is not (changed or removed meanwhile).
   * @throws {StoreUnavailableError}
   */
  replace(name: string, expected: PasswordRecord, record: PasswordRecord): Promise<boolean>;
  /**
   * Unregisters `name`, if its record still is `expected`.
   *
   * @returns false, changing nothing, when it is not.
   * @throws {StoreUnavailableError}
   */
  remove(name: string, expected: PasswordRecord): Promise<boolean>;
  /** Releases the connection or file it holds. */
  close(): Promise<void>;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The record stored as `text`, or null when it is not one (damaged, or
 * written by a later version with another algorithm).
 *
 * @example
 * ```ts
 * parseRecord('{"alg":"scrypt","N":16384,"r":8,"p":1,"salt":"AA==","hash":"AA=="}');
 * ```
 */
export function parseRecord(text: string): PasswordRecord | null {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { alg, N, r, p, salt, hash } = value;
  const whole = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;
  if (alg !== "scrypt" || !whole(N) || !whole(r) || !whole(p)) return null;
  if (typeof salt !== "string" || !BASE64.test(salt)) return null;
  if (typeof hash !== "string" || !BASE64.test(hash)) return null;
  return { alg, N: N as number, r: r as number, p: p as number, salt, hash };
}

/** The text a record is stored as: always the same for the same record, so it can be compared. */
export function recordText(record: PasswordRecord): string {
  const { alg, N, r, p, salt, hash } = record;
  return JSON.stringify({ alg, N, r, p, salt, hash });
}
