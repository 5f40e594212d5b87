/**
 * The presence contract: who is online, across replicas. Each user name is
 * claimed by one connection at a time, and a claim expires unless its server
 * refreshes it, so the users of a replica that crashed disappear on their own.
 *
 * Names are unique without regard to case or compatibility forms: "Alice",
 * "alice" and "ＡＬＩＣＥ" (fullwidth) are one name (see
 * {@linkcode foldName}). The name as the user typed it is kept for display,
 * and {@linkcode Presence.list} returns those display names.
 *
 * A claim may carry the hash of a resume token (`tokenHash`): whoever
 * presents the token takes the claim over at once
 * ({@linkcode Presence.takeOver}), so that a client whose replica crashed
 * does not wait for the dead replica's claim to expire. Only the hash is
 * kept; comparing hashes also means that no timing of the comparison tells
 * anything about the token.
 *
 * Implementations: `local_presence.ts` (one process, for the embedded store)
 * and `redis_presence.ts` (any number of replicas). This module holds only
 * what they share; it does no I/O and decides nothing about what a client
 * is told.
 *
 * @module
 */

/** One connection's claim on a name. */
export interface Claim {
  /** The name as the user typed it. */
  user: string;
  /** The claiming connection's id, unique across replicas. */
  owner: string;
  /** Hash of the resume token that may take this claim over; none: it cannot be. */
  tokenHash?: string;
}

/**
 * How {@linkcode Presence.takeOver} went: `claimed` (nobody held the name, or
 * this owner did), `taken_back` (a claim with the presented token's hash was
 * moved to this owner), `held` (someone else holds it and the token is not
 * theirs: wrong, expired, or never given).
 */
export type TakeOverResult = "claimed" | "taken_back" | "held";

/** The online users of every replica. */
export interface Presence {
  /**
   * Claims `user` for `owner` (a unique per-connection id), with the hash of
   * the resume token that may take it over. False if someone else holds it.
   */
  claim(user: string, owner: string, tokenHash?: string): Promise<boolean>;
  /**
   * Claims `user` for `owner` like {@linkcode claim}, and also when someone
   * else holds it under `presentedHash` (the hash of the token the client
   * presented): that claim then moves to `owner`, atomically, with
   * `tokenHash` as its new token's hash. The old owner's next refresh
   * reports the name lost.
   */
  takeOver(
    user: string,
    owner: string,
    presentedHash: string,
    tokenHash: string,
  ): Promise<TakeOverResult>;
  /** Releases `user` if `owner` still holds it. */
  release(user: string, owner: string): Promise<void>;
  /** Names online on all replicas, sorted. */
  list(): Promise<string[]>;
  /**
   * Extends the expiry of these claims (called periodically by the server
   * for its own users). A claim that expired but that nobody else took is
   * taken back. Returns the users whose claim was lost (expired and taken by
   * someone else).
   */
  refresh(claims: ReadonlyArray<Claim>): Promise<string[]>;
  /** Releases the connection or memory it holds; claims are left to expire. */
  close(): Promise<void>;
}

/**
 * The key under which a name is unique: NFKC-normalised, then upper- and
 * lower-cased, which approximates Unicode's NFKC_Casefold. So "Alice",
 * "ALICE", "ａｌｉｃｅ" (fullwidth) are one name, and so are "STRASSE" and
 * "straße". It does not catch look-alikes from different scripts (Latin "a"
 * and Cyrillic "а" stay different).
 *
 * @example
 * ```ts
 * foldName("Straße") === foldName("STRASSE"); // true
 * ```
 */
export function foldName(name: string): string {
  return name.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
}

/**
 * Display names sorted by their folded key, in code-unit order, so that every
 * implementation (and every replica) lists users in the same order.
 */
export function sortNames(entries: Array<{ key: string; name: string }>): string[] {
  return entries.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0).map((e) => e.name);
}
