/**
 * This replica's claims on user names: the one owner of claiming, refreshing
 * and releasing them in the shared {@linkcode Presence} registry.
 *
 * A claim lives the presence TTL without a refresh, so the roster refreshes
 * all of its claims on one timer, three times per TTL. A claim that was lost
 * (this replica could not refresh it in time and someone else took the name)
 * is reported to whoever claimed it, so that a name is never held twice.
 *
 * It does not decide what a client is told; sessions do.
 *
 * @module
 */

import type { Logger } from "../ops/log.ts";
import { foldName, type Presence, type TakeOverResult } from "../store/presence.ts";

/** Options for {@linkcode Roster}. */
export interface RosterOptions {
  /** How long a claim lives without a refresh, in ms. */
  ttlMs: number;
  logger: Logger;
}

interface Held {
  user: string;
  tokenHash?: string;
  onLost: () => void;
}

/**
 * The names this replica's connections hold.
 *
 * @example
 * ```ts
 * const roster = new Roster(presence, { ttlMs: 30_000, logger });
 * if (await roster.claim("alice", "replica-1/7", () => session.end({ kind: "name_lost" }))) {
 *   // ... serve alice ...
 *   await roster.release("replica-1/7");
 * }
 * roster.close();
 * ```
 */
export class Roster {
  readonly #presence: Presence;
  readonly #logger: Logger;
  readonly #held = new Map<string, Held>();
  readonly #timer: ReturnType<typeof setInterval>;
  #refreshing = false;

  constructor(presence: Presence, options: RosterOptions) {
    this.#presence = presence;
    this.#logger = options.logger;
    this.#timer = setInterval(() => void this.refresh(), options.ttlMs / 3);
  }

  /**
   * Claims `user` for the connection `owner` (unique across replicas), with
   * the hash of the resume token that may take it over, if any. `onLost` is
   * called if the claim is later lost to someone else.
   *
   * @returns false when someone else holds the name.
   * @throws {StoreUnavailableError} when the registry cannot be reached.
   */
  async claim(
    user: string,
    owner: string,
    onLost: () => void,
    tokenHash?: string,
  ): Promise<boolean> {
    if (!await this.#presence.claim(user, owner, tokenHash)) return false;
    this.#held.set(owner, { user, tokenHash, onLost });
    return true;
  }

  /**
   * Claims `user` like {@linkcode claim}, also from a claim whose token hash
   * is `presentedHash` (see `Presence.takeOver`). A connection of this
   * replica that held the name loses it at once; one on another replica at
   * its replica's next refresh.
   *
   * @throws {StoreUnavailableError} when the registry cannot be reached.
   */
  async takeOver(
    user: string,
    owner: string,
    onLost: () => void,
    presentedHash: string,
    tokenHash: string,
  ): Promise<TakeOverResult> {
    const result = await this.#presence.takeOver(user, owner, presentedHash, tokenHash);
    if (result === "held") return result;
    const key = foldName(user);
    for (const [other, held] of this.#held) {
      if (other !== owner && foldName(held.user) === key) {
        this.#held.delete(other);
        held.onLost();
      }
    }
    this.#held.set(owner, { user, tokenHash, onLost });
    return result;
  }

  /** Releases the name `owner` holds, if any. A failure is logged; the claim then expires. */
  async release(owner: string): Promise<void> {
    const held = this.#held.get(owner);
    if (held === undefined) return;
    this.#held.delete(owner);
    try {
      await this.#presence.release(held.user, owner);
    } catch (error) {
      this.#logger.warn("name not released", {
        user: held.user,
        error: (error as Error).message,
      });
    }
  }

  /**
   * Names online on all replicas, sorted.
   *
   * @throws {StoreUnavailableError} when the registry cannot be reached.
   */
  list(): Promise<string[]> {
    return this.#presence.list();
  }

  /**
   * Extends every claim held, and reports the lost ones to their owners.
   * The timer calls it; a refresh still running makes the next one skip.
   */
  async refresh(): Promise<void> {
    if (this.#refreshing || this.#held.size === 0) return;
    this.#refreshing = true;
    const held = [...this.#held];
    try {
      const lost = new Set(
        await this.#presence.refresh(
          held.map(([owner, { user, tokenHash }]) => ({ user, owner, tokenHash })),
        ),
      );
      for (const [owner, { user, onLost }] of held) {
        // Released while the refresh ran: nothing left to lose.
        if (lost.has(user) && this.#held.get(owner)?.onLost === onLost) onLost();
      }
    } catch (error) {
      this.#logger.warn("presence not refreshed", { error: (error as Error).message });
    } finally {
      this.#refreshing = false;
    }
  }

  /** Stops refreshing. Claims still held are left to expire. */
  close(): void {
    clearInterval(this.#timer);
  }
}
