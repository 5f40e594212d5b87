/**
 * The per-address connection limit, and the trusted networks exempt from it.
 *
 * An IPv6 client usually holds a whole /64, so by default all of a /64
 * counts as one address (as IRC servers do); otherwise one host could open
 * unlimited connections by varying its address. Address parsing and
 * grouping are in `../util/cidr.ts`.
 *
 * This module does not know about sockets or the global connection limit;
 * the server asks it before accepting and tells it after closing.
 *
 * @module
 */

import { addressGroup, inNetworks, type Network, parseAddress } from "../util/cidr.ts";

/** Options for {@linkcode ConnectionLimiter}. */
export interface ConnectionLimiterOptions {
  /** Most simultaneous connections per address; at least 1. */
  perIp: number;
  /** Networks whose addresses are not limited (see {@linkcode parseNetworks}). */
  trusted: readonly Network[];
  /** Prefix length under which IPv6 addresses count as one; defaults to 64. */
  ipv6Prefix?: number;
}

/**
 * Counts open connections per client address and refuses one over the
 * limit. Addresses in trusted networks are never refused and not counted.
 * An address's entry is deleted when its count reaches zero, so the map
 * holds only addresses with open connections.
 *
 * @example
 * ```ts
 * const limiter = new ConnectionLimiter({ perIp: 10, trusted: parseNetworks(DEFAULT_TRUSTED) });
 * const address = conn.remoteAddr.hostname;
 * if (!limiter.acquire(address)) {
 *   // write the refusal line, then close
 * } else {
 *   try {
 *     // serve the connection
 *   } finally {
 *     limiter.release(address);
 *   }
 * }
 * ```
 */
export class ConnectionLimiter {
  readonly #perIp: number;
  readonly #trusted: readonly Network[];
  readonly #ipv6Prefix: number;
  readonly #counts = new Map<bigint | string, number>();

  /** @throws {RangeError} when `perIp` or `ipv6Prefix` is out of range. */
  constructor(options: ConnectionLimiterOptions) {
    if (!(Number.isInteger(options.perIp) && options.perIp >= 1)) {
      throw new RangeError(`perIp must be a whole number of at least 1, got ${options.perIp}`);
    }
    const ipv6Prefix = options.ipv6Prefix ?? 64;
    if (!(Number.isInteger(ipv6Prefix) && ipv6Prefix >= 1 && ipv6Prefix <= 128)) {
      throw new RangeError(`ipv6Prefix must be a whole number from 1 to 128, got ${ipv6Prefix}`);
    }
    this.#perIp = options.perIp;
    this.#trusted = options.trusted;
    this.#ipv6Prefix = ipv6Prefix;
  }

  /**
   * Counts one more connection from `address`, unless it already has the
   * most allowed.
   *
   * @returns false, without counting, when the connection must be refused.
   */
  acquire(address: string): boolean {
    const key = this.#key(address);
    if (key === null) return true;
    const count = this.#counts.get(key) ?? 0;
    if (count >= this.#perIp) return false;
    this.#counts.set(key, count + 1);
    return true;
  }

  /** Counts one connection from `address` as closed. Call once per successful acquire. */
  release(address: string): void {
    const key = this.#key(address);
    if (key === null) return;
    const count = this.#counts.get(key);
    if (count === undefined) return;
    if (count <= 1) this.#counts.delete(key);
    else this.#counts.set(key, count - 1);
  }

  /** Open connections counted for `address` (0 for a trusted address). */
  count(address: string): number {
    const key = this.#key(address);
    return key === null ? 0 : this.#counts.get(key) ?? 0;
  }

  /** How many addresses have open connections (for metrics, and to show the map stays small). */
  get size(): number {
    return this.#counts.size;
  }

  /** The counting key for an address, or null when it is trusted. */
  #key(address: string): bigint | string | null {
    const value = parseAddress(address);
    // Not an IP address (a Unix socket): still limited, by its text.
    if (value === null) return address;
    if (inNetworks(this.#trusted, value)) return null;
    return addressGroup(value, this.#ipv6Prefix);
  }
}
