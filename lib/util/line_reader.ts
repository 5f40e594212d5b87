/**
 * A bounded line reader: turns a byte source into an async iterator of text
 * lines, never holding more than the line limit.
 *
 * A line longer than the limit is reported once, as soon as it crosses the
 * limit, and the rest of it is discarded as it arrives, so a client sending
 * an endless line costs no more memory than a short one. The read buffer
 * starts small (idle connections dominate memory) and grows only while a long
 * line is streaming in; the reader keeps no other per-reader object (no
 * decoder, no closures) while it waits. Invalid UTF-8 becomes U+FFFD. It does
 * not sanitise or interpret the text.
 *
 * Peers that frame by write instead of by line break (the old Python client
 * sends its name and each message as one write with no `\n`) are served by
 * `idleFlushMs`: a partial line followed by that much silence is a line.
 *
 * @module
 */

import { concat } from "./bytes.ts";
import { EXPIRED, within } from "./deadline.ts";

/** Anything with `read` in the shape of `Deno.Conn`. */
export interface ByteSource {
  read(buffer: Uint8Array): Promise<number | null>;
}

/** One item from {@linkcode readLines}. */
export type Line =
  | { type: "line"; text: string }
  | { type: "too_long" };

/** Options for {@linkcode readLines}. */
export interface LineReaderOptions {
  /** Longest line in bytes, not counting the line break. */
  maxLineBytes: number;
  /** Size of the read buffer while idle. Defaults to 512 bytes. */
  minBufferBytes?: number;
  /** Largest the read buffer grows to. Defaults to 16 KiB. */
  maxBufferBytes?: number;
  /**
   * Yield a partial line once no byte has arrived for this many
   * milliseconds. Off (`undefined`) by default.
   */
  idleFlushMs?: number;
  /** Ends the lines, as end of input does, once aborted: a read in flight is not waited for. */
  signal?: AbortSignal;
}

const LF = 0x0a;
const CR = 0x0d;
// Decoding whole lines keeps no state between calls, so one decoder serves every reader.
const decoder = new TextDecoder();

/**
 * Yields the lines read from `source`, split on `\n` with a trailing `\r`
 * removed. A last line without a line break is yielded at end of input.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ port: 6000 });
 * for await (const line of readLines(conn, { maxLineBytes: 4096 })) {
 *   if (line.type === "line") console.log(line.text);
 * }
 * ```
 */
export async function* readLines(
  source: ByteSource,
  options: LineReaderOptions,
): AsyncGenerator<Line, void, undefined> {
  const { maxLineBytes, signal } = options;
  const minBuffer = options.minBufferBytes ?? 512;
  const maxBuffer = Math.max(minBuffer, options.maxBufferBytes ?? 16_384);
  let buffer = new Uint8Array(minBuffer);
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let discarding = false;
  // One abort listener for the reader's life, not one per read (most readers wait most of the
  // time); it wakes the read being waited for. Racing each read against one long-lived promise
  // would instead pile a reaction onto it per read.
  let wake: ((stopped: typeof EXPIRED) => void) | null = null;
  const onAbort = () => wake?.(EXPIRED);
  signal?.addEventListener("abort", onAbort, { once: true });

  let reading: Promise<number | null> | null = null;
  try {
    while (!signal?.aborted) {
      reading ??= source.read(buffer);
      const n = options.idleFlushMs !== undefined && pendingBytes > 0 && !discarding
        ? await within(reading, options.idleFlushMs, signal)
        : await (signal ? wakeable(reading, (resolve) => wake = resolve) : reading);
      wake = null;
      if (signal?.aborted) return;
      if (n === EXPIRED) {
        // The read stays in flight into the next turn; `pending` holds copies,
        // so the buffer it fills is free. A character cut short by the pause
        // waits for its remaining bytes.
        const bytes = joined(pending, new Uint8Array(0));
        const cut = incompleteTail(bytes);
        pending = cut > 0 ? [bytes.slice(bytes.length - cut)] : [];
        pendingBytes = cut;
        if (cut < bytes.length) yield toLine(bytes.subarray(0, bytes.length - cut), maxLineBytes);
        continue;
      }
      reading = null;
      if (n === null) {
        if (pendingBytes > 0 && !discarding) {
          yield toLine(joined(pending, new Uint8Array(0)), maxLineBytes);
        }
        return;
      }
      const chunk = buffer.subarray(0, n);
      let start = 0;
      while (start < chunk.length) {
        const newline = chunk.indexOf(LF, start);
        const end = newline === -1 ? chunk.length : newline;
        const piece = chunk.subarray(start, end);
        // One byte of slack for the `\r` of a `\r\n`; toLine() checks exactly.
        if (!discarding && pendingBytes + piece.length > maxLineBytes + 1) {
          discarding = true;
          pending = [];
          pendingBytes = 0;
          yield { type: "too_long" };
        }
        if (newline === -1) {
          if (!discarding) {
            pending.push(piece.slice());
            pendingBytes += piece.length;
          }
          break;
        }
        if (discarding) {
          discarding = false;
        } else {
          const line = toLine(joined(pending, piece), maxLineBytes);
          pending.length = 0;
          pendingBytes = 0;
          yield line;
        }
        start = newline + 1;
      }
      // Grow only while a long line streams in; shrink back once idle.
      if (n === buffer.length && buffer.length < maxBuffer) {
        buffer = new Uint8Array(Math.min(buffer.length * 2, maxBuffer));
      } else if (buffer.length > minBuffer && pendingBytes === 0 && !discarding) {
        buffer = new Uint8Array(minBuffer);
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // Abandoned mid-read: its failure on close is expected, not unhandled.
    reading?.catch(() => {});
  }
}

/** Everything in `pending` followed by `tail`, as one array. */
function joined(pending: Uint8Array[], tail: Uint8Array): Uint8Array {
  return pending.length > 0 ? concat([...pending, tail]) : tail;
}

/** The line in `bytes`, less a trailing `\r`, or `too_long` past `maxLineBytes`. */
function toLine(bytes: Uint8Array, maxLineBytes: number): Line {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
  if (end > maxLineBytes) return { type: "too_long" };
  return { type: "line", text: decoder.decode(bytes.subarray(0, end)) };
}

/** `reading`'s outcome, or {@linkcode EXPIRED} if the resolver given to `expose` is called first. */
function wakeable<T>(
  reading: Promise<T>,
  expose: (resolve: (stopped: typeof EXPIRED) => void) => void,
): Promise<T | typeof EXPIRED> {
  return new Promise((resolve, reject) => {
    expose(resolve);
    reading.then(resolve, reject);
  });
}

/** How many bytes at the end of `bytes` begin a UTF-8 character not yet complete. */
function incompleteTail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}
