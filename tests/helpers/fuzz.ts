/**
 * Seeded, replayable fuzzing: a small PRNG, a runner that names the seed in
 * every failure, a byte source that splits its input at random points, and
 * generators of hostile input (malformed UTF-8, control characters, odd line
 * breaks, overlong lines, broken JSON).
 *
 * The seed comes from `FUZZ_SEED` when set, so a failure printed as
 * `FUZZ_SEED=1234` is replayed exactly by running the same test file with
 * that variable. Each fuzz run derives its own stream from the seed and its
 * name, so adding a run does not change the cases of the others.
 *
 * It does not shrink failing inputs; the failure message says which case
 * failed, and the case's input is in the assertion message where it matters.
 *
 * @module
 */

import type { ByteSource } from "../../lib/util/line_reader.ts";
import { concat } from "../../lib/util/bytes.ts";

/**
 * The seed for this test process: `FUZZ_SEED` when set, otherwise a random
 * 32-bit value (printed in every failure message, so it can be replayed).
 *
 * @throws {Error} when `FUZZ_SEED` is set but not a whole number.
 */
export function fuzzSeed(): number {
  const text = Deno.env.get("FUZZ_SEED");
  if (text === undefined || text === "") return crypto.getRandomValues(new Uint32Array(1))[0];
  if (!/^\d+$/.test(text)) throw new Error(`FUZZ_SEED must be a whole number, got "${text}"`);
  return Number(BigInt(text) & 0xffffffffn);
}

/** Mulberry32: a tiny, fast, seeded generator; plenty for fuzzing, never for secrets. */
export class Prng {
  #state: number;

  /** @param seed any number; only its low 32 bits matter. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** `length` uniformly random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

/** Options for {@linkcode fuzz}. */
export interface FuzzOptions {
  /** Names the run; mixed into the seed so each run gets its own cases. */
  name: string;
  /** How many cases to run. */
  iterations: number;
  /** Defaults to {@linkcode fuzzSeed}(). */
  seed?: number;
}

/** A fuzz case failed; the message says how to replay it. */
export class FuzzFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FuzzFailure";
  }
}

/**
 * Runs `check` for `iterations` cases, each with its own generator derived
 * from the seed, the run's name and the case number. The first failure is
 * rethrown as a {@linkcode FuzzFailure} whose message starts with the
 * `FUZZ_SEED=...` that replays it.
 *
 * @example
 * ```ts
 * Deno.test("sanitize never throws", () =>
 *   fuzz({ name: "sanitize", iterations: 300 }, (prng) => {
 *     sanitize(hostileLine(prng, 256));
 *   }));
 * ```
 */
export async function fuzz(
  options: FuzzOptions,
  check: (prng: Prng, iteration: number) => void | Promise<void>,
): Promise<void> {
  const seed = options.seed ?? fuzzSeed();
  const base = seed ^ hashText(options.name);
  for (let iteration = 0; iteration < options.iterations; iteration++) {
    try {
      await check(new Prng(base ^ Math.imul(iteration + 1, 0x9e3779b9)), iteration);
    } catch (error) {
      throw new FuzzFailure(
        `FUZZ_SEED=${seed} (${options.name}, case ${iteration} of ${options.iterations}): ` +
          (error instanceof Error ? error.message : String(error)),
        { cause: error },
      );
    }
  }
}

/** FNV-1a over the UTF-16 code units of `text`. */
function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * Serves `input` in pieces of random size (mostly small, sometimes as large
 * as the reader's buffer), the way a network delivers it, and records what
 * the reader asked for.
 */
export class RandomChunkSource implements ByteSource {
  /** Bytes handed out so far. */
  served = 0;
  /** The largest buffer the reader passed to `read`. */
  largestBuffer = 0;
  readonly #input: Uint8Array;
  readonly #prng: Prng;

  constructor(input: Uint8Array, prng: Prng) {
    this.#input = input;
    this.#prng = prng;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.largestBuffer = Math.max(this.largestBuffer, buffer.length);
    if (this.served >= this.#input.length) return Promise.resolve(null);
    const want = this.#prng.chance(0.8) ? this.#prng.int(1, 16) : buffer.length;
    const n = Math.min(want, buffer.length, this.#input.length - this.served);
    buffer.set(this.#input.subarray(this.served, this.served + n));
    this.served += n;
    return Promise.resolve(n);
  }
}

const encoder = new TextEncoder();

/** Byte sequences that are not valid UTF-8, each a classic way to get it wrong. */
const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0xfe, 0xff],
  [0x80], // continuation byte without a lead
  [0xbf, 0x80],
  [0xc3], // lead byte without its continuation
  [0xe2, 0x82], // three-byte character cut short
  [0xf0, 0x9f, 0x98], // four-byte character cut short
  [0xc0, 0xaf], // overlong "/"
  [0xe0, 0x80, 0xaf], // overlong "/"
  [0xed, 0xa0, 0x80], // UTF-16 surrogate
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xc2, 0x9b], // valid, but C1 CSI
];

const TEXT: readonly string[] = [
  "hello",
  " ",
  "\t",
  "é",
  "李雷",
  "😀",
  "👨‍👩‍👧",
  "\u202e",
  "\u200b",
  "\x1b[2J",
  "\x07",
  "\x00",
  "\x7f",
  "exit",
  "/quit",
  "//",
  "/help",
  "{",
  "}",
  '{"type":"hello","user":"alice","since":42}',
  '{"type":"message","text":"hi"}',
  "GET / HTTP/1.1",
  "\ufffd",
  "\ufeff",
];

const BREAKS: readonly string[] = ["\n", "\r\n", "\r", "\r\r\n", "\n\r", "\n\n"];

/**
 * A hostile byte stream: text, control characters, invalid UTF-8, random
 * bytes and every kind of line break, with runs around `maxLineBytes` long
 * (just under, at, just over the limit) and now and then a huge line with
 * no line break at all.
 */
export function hostileBytes(prng: Prng, maxLineBytes: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const segments = prng.int(0, 40);
  for (let i = 0; i < segments; i++) {
    const kind = prng.int(0, 9);
    if (kind <= 2) parts.push(encoder.encode(prng.pick(TEXT)));
    else if (kind === 3) parts.push(Uint8Array.from(prng.pick(INVALID_UTF8)));
    else if (kind <= 5) parts.push(encoder.encode(prng.pick(BREAKS)));
    else if (kind === 6) parts.push(prng.bytes(prng.int(0, 64)));
    else if (kind === 7) parts.push(run(prng, maxLineBytes + prng.int(-2, 2)));
    else if (kind === 8) parts.push(run(prng, prng.int(0, 4 * maxLineBytes)));
    else if (prng.chance(0.1)) parts.push(run(prng, prng.int(32 * 1024, 96 * 1024)));
  }
  return concat(parts);
}

/** `length` bytes of one repeated printable byte, or of multi-byte characters cut anywhere. */
function run(prng: Prng, length: number): Uint8Array {
  const size = Math.max(0, length);
  if (prng.chance(0.5)) return new Uint8Array(size).fill(prng.int(0x21, 0x7e));
  const unit = encoder.encode(prng.pick(["é", "李", "😀"]));
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = unit[i % unit.length];
  return out;
}

/**
 * One hostile line of text as a line reader yields it (no `\n`; anything
 * else goes): decoded hostile bytes, JSON objects with odd fields, values
 * and nesting, or JSON cut or corrupted at a random point. At most about
 * `maxBytes` bytes before decoding.
 */
export function hostileLine(prng: Prng, maxBytes: number): string {
  const choice = prng.int(0, 3);
  let text: string;
  if (choice === 0) {
    text = new TextDecoder().decode(hostileBytes(prng, maxBytes).subarray(0, maxBytes));
  } else {
    text = JSON.stringify(hostileJson(prng, 0));
    if (choice === 2) text = text.slice(0, prng.int(0, text.length));
    if (choice === 3) {
      const at = prng.int(0, text.length);
      text = text.slice(0, at) + prng.pick(TEXT) + text.slice(at + prng.int(0, 3));
    }
    text = text.slice(0, maxBytes);
  }
  return text.replaceAll("\n", "");
}

const KEYS: readonly string[] = [
  "type",
  "user",
  "text",
  "since",
  "id",
  "ts",
  "__proto__",
  "constructor",
  "toString",
  "",
  "TYPE",
];

const SCALARS: readonly unknown[] = [
  "hello",
  "message",
  "join",
  "",
  "{",
  "\u0000",
  0,
  -1,
  1.5,
  1e308,
  -0,
  9007199254740993,
  true,
  false,
  null,
];

function hostileJson(prng: Prng, depth: number): unknown {
  const kind = depth > 4 ? 0 : prng.int(0, 3);
  if (kind === 0) return prng.pick(SCALARS);
  if (kind === 1) {
    // A deep, narrow nest: parsers that recurse over it must not overflow.
    let value: unknown = prng.pick(SCALARS);
    for (let i = prng.int(1, 500); i > 0; i--) value = [value];
    return value;
  }
  if (kind === 2) {
    return Array.from({ length: prng.int(0, 4) }, () => hostileJson(prng, depth + 1));
  }
  const object: Record<string, unknown> = {};
  for (let i = prng.int(0, 5); i > 0; i--) {
    Object.defineProperty(object, prng.pick(KEYS), {
      value: hostileJson(prng, depth + 1),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
  return object;
}

/** Characters a ref may hold, and a few it may not. */
const REF_CHARS = "ABCXYZabcxyz0189_.:-";
const BAD_REF_CHARS = [" ", "/", "\u00e9", "\u202e", "\x00", "\n", "{", "\ufffd"];

/** A `ref`: mostly valid (1-64 of the allowed characters), else empty, too long or with a bad character. */
function hostileRef(prng: Prng): string {
  const valid = (length: number) =>
    Array.from({ length }, () => REF_CHARS[prng.int(0, REF_CHARS.length - 1)]).join("");
  switch (prng.int(0, 5)) {
    case 0:
      return "";
    case 1:
      return valid(prng.int(65, 80));
    case 2: {
      const ref = valid(prng.int(1, 64));
      const at = prng.int(0, ref.length);
      return ref.slice(0, at) + prng.pick(BAD_REF_CHARS) + ref.slice(at);
    }
    default:
      return valid(prng.pick([1, 64, prng.int(1, 64)]));
  }
}

/** Request types, the common ones more often, and one that is only text mode's. */
const TYPES = ["message", "message", "message", "hello", "hello", "who", "ping", "quit", "help"];

/** Now and then a value of the wrong type in place of `value`. */
function mistyped(prng: Prng, value: unknown): unknown {
  return prng.chance(0.85) ? value : prng.pick([0, -1, 1.5, true, null, [], {}, [value]]);
}

/**
 * One line shaped like a JSON-mode request or hello, with hostile values: the
 * expected keys (now and then of the wrong type or given twice), text full of
 * control, bidi and invisible characters and decoded invalid UTF-8, refs valid
 * and not, odd `since` values; sometimes cut short. At most about `maxBytes`
 * bytes of text.
 */
export function hostileRequest(prng: Prng, maxBytes: number): string {
  const request: Record<string, unknown> = {
    type: mistyped(prng, prng.pick(TYPES)),
  };
  const text = () =>
    Array.from({ length: prng.int(0, 4) }, () => {
      return prng.chance(0.5)
        ? prng.pick(TEXT)
        : new TextDecoder().decode(hostileBytes(prng, maxBytes).subarray(0, maxBytes));
    }).join("").slice(0, maxBytes);
  if (prng.chance(0.9)) request.text = mistyped(prng, text());
  if (prng.chance(0.6)) request.ref = mistyped(prng, hostileRef(prng));
  if (prng.chance(0.7)) request.user = mistyped(prng, text());
  if (prng.chance(0.4)) {
    request.since = prng.pick([0, 1, 42, -1, 1.5, 2 ** 53 - 1, 2 ** 53, 1e308, "3", -0]);
  }
  let line = JSON.stringify(request);
  // JSON.parse keeps the last of two equal keys.
  if (prng.chance(0.1)) line = `${line.slice(0, -1)},"${prng.pick(["text", "ref", "type"])}":5}`;
  if (prng.chance(0.1)) line = line.slice(0, prng.int(0, line.length));
  return line;
}
