/**
 * The per-address connection limit, and the trusted networks exempt from it.
 *
 * Addresses and networks are IPv4 or IPv6. Internally every address is one
 * 128-bit number, IPv4 written as IPv4-mapped IPv6 (`10.1.2.3` is
 * `::ffff:10.1.2.3`), so a dual-stack listener's `::ffff:10.1.2.3` and a
 * plain `10.1.2.3` are the same client, and `10.0.0.0/8` covers both.
 *
 * An IPv6 client usually holds a whole /64, so by default all of a /64
 * counts as one address (as IRC servers do); otherwise one host could open
 * unlimited connections by varying its address.
 *
 * This module does not know about sockets or the global connection limit;
 * the server asks it before accepting and tells it after closing.
 *
 * @module
 */

/** The default `TRUSTED_NETWORKS`: loopback only. */
export const DEFAULT_TRUSTED = "127.0.0.0/8,::1/128";

/** One network from a trusted-networks list. */
export interface Network {
  /** The entry as it was written, e.g. `10.0.0.0/8`. */
  readonly text: string;
  /** Its first address, as a 128-bit number (IPv4 as IPv4-mapped IPv6). */
  readonly base: bigint;
  /** Its prefix length in that 128-bit space (IPv4 `/8` is 104). */
  readonly prefix: number;
}

/** A trusted-networks list that cannot be used; the message names the bad entry. */
export class NetworkListError extends Error {
  /** The entry at fault, as written (empty for an empty list or entry). */
  readonly entry: string;

  constructor(entry: string, message: string) {
    super(message);
    this.name = "NetworkListError";
    this.entry = entry;
  }
}

const MAPPED_V4 = 0xffffn << 32n;
const V4_OFFSET = 96;

/** MASKS[p] keeps the top p bits of a 128-bit number. */
const MASKS: readonly bigint[] = Array.from(
  { length: 129 },
  (_, p) => p === 0 ? 0n : ((1n << BigInt(p)) - 1n) << BigInt(128 - p),
);

/**
 * Parses a comma-separated list of networks in CIDR notation, IPv4 or IPv6.
 * A bare address is a single host (`/32` or `/128`); `none` is the empty
 * list. White space around entries is ignored.
 *
 * @example
 * ```ts
 * const trusted = parseNetworks("127.0.0.0/8,::1/128,10.0.0.0/8");
 * contains(trusted, "::ffff:10.1.2.3"); // true
 * ```
 *
 * @throws {NetworkListError} naming the first bad entry: not an address, a
 *   prefix out of range, or bits set after the prefix (`10.1.0.0/8`).
 */
export function parseNetworks(text: string): Network[] {
  if (text.trim().toLowerCase() === "none") return [];
  if (text.trim() === "") {
    throw new NetworkListError("", `the network list is empty; write "none" for no networks`);
  }
  return text.split(",").map((raw) => parseNetwork(raw.trim()));
}

function parseNetwork(entry: string): Network {
  if (entry === "") {
    throw new NetworkListError("", "the network list has an empty entry (two commas in a row?)");
  }
  const slash = entry.indexOf("/");
  const addressText = slash === -1 ? entry : entry.slice(0, slash);
  const v4 = parseIPv4(addressText);
  const address = v4 ?? parseIPv6(addressText);
  if (address === null) {
    throw new NetworkListError(
      entry,
      `"${entry}" is not a network: "${addressText}" is not an IPv4 or IPv6 address`,
    );
  }
  const width = v4 === null ? 128 : 32;
  let prefix = width;
  if (slash !== -1) {
    const prefixText = entry.slice(slash + 1);
    prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix <= width)) {
      throw new NetworkListError(
        entry,
        `"${entry}" is not a network: the prefix length must be 0 to ${width}`,
      );
    }
  }
  const bits = prefix + 128 - width;
  const base = address & MASKS[bits];
  if (base !== address) {
    throw new NetworkListError(
      entry,
      `"${entry}" is not a network: it has bits set after the /${prefix} prefix ` +
        `(did you mean ${formatBase(base, v4 !== null)}/${prefix}?)`,
    );
  }
  return { text: entry, base, prefix: bits };
}

/**
 * Whether `address` lies in any of `networks`. Takes IPv4, IPv6, IPv4-mapped
 * IPv6 and a zone suffix (`fe80::1%eth0`, zone ignored); anything else (such
 * as a Unix socket path) is in no network.
 */
export function contains(networks: readonly Network[], address: string): boolean {
  const value = parseAddress(address);
  if (value === null) return false;
  return networks.some((network) => (value & MASKS[network.prefix]) === network.base);
}

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
  readonly #ipv6Mask: bigint;
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
    this.#ipv6Mask = MASKS[ipv6Prefix];
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
    if (this.#trusted.some((network) => (value & MASKS[network.prefix]) === network.base)) {
      return null;
    }
    return (value & MASKS[V4_OFFSET]) === MAPPED_V4 ? value : value & this.#ipv6Mask;
  }
}

/** An address as a 128-bit number, or null when it is not an IP address. */
function parseAddress(text: string): bigint | null {
  const zone = text.indexOf("%");
  const bare = zone !== -1 && text.includes(":") ? text.slice(0, zone) : text;
  return parseIPv4(bare) ?? parseIPv6(bare);
}

/** Dotted-quad IPv4 as an IPv4-mapped 128-bit number, or null. */
function parseIPv4(text: string): bigint | null {
  const value = parseIPv4Bits(text);
  return value === null ? null : MAPPED_V4 | BigInt(value);
}

/** Dotted-quad IPv4 as a 32-bit number, or null. Leading zeros (octal to some tools) are refused. */
function parseIPv4Bits(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return null;
    value = value * 256 + Number(part);
  }
  return value;
}

/** IPv6 text (with `::` and an optional dotted-quad tail) as a 128-bit number, or null. */
function parseIPv6(text: string): bigint | null {
  if (!text.includes(":")) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === "") return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (const [index, part] of parts.entries()) {
      if (index === parts.length - 1 && part.includes(".")) {
        const v4 = parseIPv4Bits(part);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  // A dotted quad may only end the address, never precede "::".
  if (halves.length === 2 && halves[0].includes(".")) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  let value = 0n;
  for (const group of [...head, ...new Array<number>(missing).fill(0), ...tail]) {
    value = (value << 16n) | BigInt(group);
  }
  return value;
}

/** The text of a network's first address, for error messages. */
function formatBase(value: bigint, v4: boolean): string {
  if (v4) {
    const bits = Number(value & 0xffffffffn);
    return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join(".");
  }
  const groups = Array.from(
    { length: 8 },
    (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16),
  );
  // Compress the longest run of zero groups (RFC 5952), for a readable hint.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.start === -1) return groups.join(":");
  const head = groups.slice(0, best.start).join(":");
  const tail = groups.slice(best.start + best.length).join(":");
  return `${head}::${tail}`;
}
