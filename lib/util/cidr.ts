/**
 * IPv4 and IPv6 addresses and networks in CIDR notation, as 128-bit numbers.
 *
 * Every address is one 128-bit number, IPv4 written as IPv4-mapped IPv6
 * (`10.1.2.3` is `::ffff:10.1.2.3`), so a dual-stack listener's
 * `::ffff:10.1.2.3` and a plain `10.1.2.3` are the same host, and
 * `10.0.0.0/8` covers both.
 *
 * This module knows nothing about connections or limits; it only parses,
 * matches and groups addresses.
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
  return value !== null && inNetworks(networks, value);
}

/** Whether the address `value` (from {@linkcode parseAddress}) lies in any of `networks`. */
export function inNetworks(networks: readonly Network[], value: bigint): boolean {
  return networks.some((network) => (value & MASKS[network.prefix]) === network.base);
}

/**
 * The group an address belongs to: an IPv4 address is its own group; an IPv6
 * address is grouped with every address sharing its first `ipv6Prefix` bits
 * (an IPv6 client usually holds a whole /64). `ipv6Prefix` is a whole
 * number from 1 to 128; the caller checks it once.
 */
export function addressGroup(value: bigint, ipv6Prefix: number): bigint {
  return (value & MASKS[V4_OFFSET]) === MAPPED_V4 ? value : value & MASKS[ipv6Prefix];
}

/**
 * An address as a 128-bit number (IPv4 as IPv4-mapped IPv6), or null when it
 * is not an IP address. A zone suffix (`fe80::1%eth0`) is ignored.
 */
export function parseAddress(text: string): bigint | null {
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
