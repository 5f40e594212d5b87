/**
 * Password hashing: scrypt from `node:crypto` with a random salt per
 * account and the parameters stored beside the hash, so that they can be
 * raised later while older records still verify. Hashing runs on the
 * runtime's worker threads (the callback `scrypt`, never `scryptSync`), so
 * other clients are served meanwhile; comparison is constant-time.
 *
 * It stores nothing and logs nothing: a password lives only in the
 * arguments of these functions.
 *
 * @module
 */

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { PasswordRecord } from "../store/accounts.ts";

/** The scrypt parameters a new record gets. */
export interface HashParameters {
  N: number;
  r: number;
  p: number;
}

/** Node's defaults: 16 MiB of memory and about 0.1-0.3 s per hash on a small server. */
export const DEFAULT_PARAMETERS: HashParameters = { N: 16_384, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Fewest characters a password has. */
export const MIN_PASSWORD_LENGTH = 8;
/** Most bytes a password has; longer ones would only make hashing cost more. */
export const MAX_PASSWORD_BYTES = 256;

/** The largest record this server agrees to verify: a stored record sets the cost. */
const MAX_COST = 1 << 20;

/**
 * Why `password` cannot be a password, or null when it can. The reason
 * never quotes the password.
 */
export function passwordProblem(password: string): string | null {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    return `a password has at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (new TextEncoder().encode(password).length > MAX_PASSWORD_BYTES) {
    return `a password has at most ${MAX_PASSWORD_BYTES} bytes`;
  }
  if (/\s/.test(password)) return "a password has no spaces";
  return null;
}

function derive(
  password: string,
  salt: Uint8Array,
  length: number,
  parameters: HashParameters,
): Promise<Uint8Array> {
  const { N, r, p } = parameters;
  return new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128 * N * r bytes, with room to spare.
    scrypt(password, salt, length, { N, r, p, maxmem: 256 * N * r + (1 << 20) }, (error, key) => {
      if (error) reject(error);
      else resolve(new Uint8Array(key));
    });
  });
}

const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string): Uint8Array =>
  Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/**
 * A new record for `password`, with a fresh random salt.
 *
 * @example
 * ```ts
 * const record = await hashPassword("correct horse");
 * await verifyPassword("correct horse", record); // true
 * ```
 */
export async function hashPassword(
  password: string,
  parameters: HashParameters = DEFAULT_PARAMETERS,
): Promise<PasswordRecord> {
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const hash = await derive(password, salt, KEY_BYTES, parameters);
  return { alg: "scrypt", ...parameters, salt: toBase64(salt), hash: toBase64(hash) };
}

/**
 * Whether `password` is the one `record` was made from, compared in
 * constant time. A record whose cost is beyond what this server would
 * compute never matches.
 */
export async function verifyPassword(password: string, record: PasswordRecord): Promise<boolean> {
  if (record.N > MAX_COST || record.r * record.p > 64) return false;
  const expected = fromBase64(record.hash);
  if (expected.length === 0) return false;
  let actual: Uint8Array;
  try {
    actual = await derive(password, fromBase64(record.salt), expected.length, record);
  } catch {
    return false;
  }
  return timingSafeEqual(actual, expected);
}
