/**
 * A bounded line reader: turns a byte source into text lines, never holding
 * more than the line limit.
 *
 * A line longer than the limit is reported once, as soon as it crosses the
 * limit, and the rest of it is discarded as it arrives, so a client sending
 * an endless line costs no more memory than a short one. The read buffer
 * starts small (idle connections dominate memory) and grows only while a long
 * line is streaming in. Invalid UTF-8 becomes U+FFFD. It does not sanitise or
 * interpret the text.
 *
 * {@linkcode LineReader} splits a read into its two halves, so that a caller
 * waiting for input waits on the source's own read and holds nothing else:
 * no generator, no promise or timer of the reader's (see `session.ts`, whose
 * idle connections are most of the server's memory). {@linkcode readLines}
 * is the same reader as an async iterator, for everyone else.
 *
 * Peers that frame by write instead of by line break (the old Python client
 * sends its name and each message as one write with no `\n`) are served by
 * `idleFlushMs`: a partial line followed by that much silence is a line. Only
 * then does a read wait with a timer.
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

/** Options for {@linkcode readLines} and {@linkcode LineReader}. */
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
}

/** What {@linkcode LineReader.read} resolves with, for {@linkcode LineReader.receive}. */
export type ReadOutcome = number | null | typeof EXPIRED;

const LF = 0x0a;
const CR = 0x0d;
const TOO_LONG: Line = { type: "too_long" };
// Decoding whole lines keeps no state between calls, so one decoder serves every reader.
const decoder = new TextDecoder();

/**
 * Lines from a byte source, split on `\n` with a trailing `\r` removed; a
 * last line without a line break counts at end of input.
 *
 * Take every line read so far with {@linkcode take}; when it has none, wait
 * for more with `reader.receive(await reader.read())`, until
 * {@linkcode done}. It also iterates, like {@linkcode readLines}.
 *
 * @example
 * ```ts
 * const reader = new LineReader(conn, { maxLineBytes: 4096 });
 * while (true) {
 *   const line = reader.take();
 *   if (line) console.log(line);
 *   else if (reader.done) break;
 *   else reader.receive(await reader.read());
 * }
 * ```
 */
export class LineReader implements AsyncIterator<Line, undefined> {
  readonly #source: ByteSource;
  readonly #maxLineBytes: number;
  readonly #minBuffer: number;
  readonly #maxBuffer: number;
  readonly #idleFlushMs: number | undefined;
  #buffer: Uint8Array;
  /** The part of `#buffer` read and not yet split. */
  #start = 0;
  #end = 0;
  /** Copies of the current line's bytes from earlier reads; made only while a line is cut. */
  #pending: Uint8Array[] | undefined;
  #pendingBytes = 0;
  #discarding = false;
  /** A line made outside the buffer (idle flush, end of input), to be taken first. */
  #ready: Line | undefined;
  /** A read still in flight after an idle flush: the next read waits for it. */
  #reading: Promise<number | null> | undefined;
  #ended = false;

  constructor(source: ByteSource, options: LineReaderOptions) {
    this.#source = source;
    this.#maxLineBytes = options.maxLineBytes;
    this.#minBuffer = options.minBufferBytes ?? 512;
    this.#maxBuffer = Math.max(this.#minBuffer, options.maxBufferBytes ?? 16_384);
    this.#idleFlushMs = options.idleFlushMs;
    this.#buffer = new Uint8Array(this.#minBuffer);
  }

  /** Whether the input ended and every line was taken. */
  get done(): boolean {
    return this.#ended && this.#ready === undefined;
  }

  /** The next line already read, or undefined when more input is needed. */
  take(): Line | undefined {
    const ready = this.#ready;
    if (ready) {
      this.#ready = undefined;
      return ready;
    }
    const buffer = this.#buffer;
    while (this.#start < this.#end) {
      const start = this.#start;
      const found = buffer.indexOf(LF, start);
      const newline = found !== -1 && found < this.#end ? found : -1;
      const stop = newline === -1 ? this.#end : newline;
      let line: Line | undefined;
      // One byte of slack for the `\r` of a `\r\n`; toLine() checks exactly.
      if (!this.#discarding && this.#pendingBytes + stop - start > this.#maxLineBytes + 1) {
        this.#discarding = true;
        this.#pending = undefined;
        this.#pendingBytes = 0;
        line = TOO_LONG;
      }
      if (newline === -1) {
        if (!this.#discarding) {
          (this.#pending ??= []).push(buffer.slice(start, stop));
          this.#pendingBytes += stop - start;
        }
        this.#start = this.#end;
      } else {
        if (this.#discarding) {
          this.#discarding = false;
        } else {
          line = this.#toLine(this.#joined(buffer.subarray(start, newline)));
        }
        this.#start = newline + 1;
      }
      if (line) return line;
    }
    return undefined;
  }

  /**
   * Waits for more input, once {@linkcode take} has nothing: resolves with
   * what to pass to {@linkcode receive}. Without a partial line waiting to be
   * flushed, this is the source's own read.
   */
  read(): Promise<ReadOutcome> {
    if (this.#reading === undefined) {
      // Grow only while a long line streams in (the last read filled the buffer); shrink back once idle.
      if (this.#end === this.#buffer.length && this.#buffer.length < this.#maxBuffer) {
        this.#buffer = new Uint8Array(Math.min(this.#buffer.length * 2, this.#maxBuffer));
      } else if (
        this.#buffer.length > this.#minBuffer && this.#pendingBytes === 0 && !this.#discarding
      ) {
        this.#buffer = new Uint8Array(this.#minBuffer);
      }
      this.#start = this.#end = 0;
      this.#reading = this.#source.read(this.#buffer);
    }
    const reading = this.#reading;
    if (this.#idleFlushMs === undefined || this.#pendingBytes === 0 || this.#discarding) {
      return reading;
    }
    return within(reading, this.#idleFlushMs);
  }

  /** Takes in what {@linkcode read} resolved with. */
  receive(outcome: ReadOutcome): void {
    if (outcome === EXPIRED) {
      // The read stays in flight; `#pending` holds copies, so the buffer it
      // fills is free. A character cut short by the pause waits for its
      // remaining bytes.
      const bytes = this.#joined(new Uint8Array(0));
      const cut = incompleteTail(bytes);
      this.#pending = cut > 0 ? [bytes.slice(bytes.length - cut)] : undefined;
      this.#pendingBytes = cut;
      if (cut < bytes.length) this.#ready = this.#toLine(bytes.subarray(0, bytes.length - cut));
      return;
    }
    this.#reading = undefined;
    if (outcome !== null) {
      this.#end = outcome;
      return;
    }
    if (this.#pendingBytes > 0 && !this.#discarding) {
      this.#ready = this.#toLine(this.#joined(new Uint8Array(0)));
    }
    this.#pending = undefined;
    this.#pendingBytes = 0;
    this.#ended = true;
  }

  /** The next line, or done at the end of input. */
  async next(): Promise<IteratorResult<Line, undefined>> {
    while (true) {
      const line = this.take();
      if (line) return { done: false, value: line };
      if (this.done) return { done: true, value: undefined };
      this.receive(await this.read());
    }
  }

  /** The pending bytes followed by `tail`, as one array; empties the pending bytes. */
  #joined(tail: Uint8Array): Uint8Array {
    const pending = this.#pending;
    if (pending === undefined) return tail;
    this.#pending = undefined;
    this.#pendingBytes = 0;
    return concat([...pending, tail]);
  }

  /** The line in `bytes`, less a trailing `\r`, or `too_long` past the limit. */
  #toLine(bytes: Uint8Array): Line {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR
      ? bytes.length - 1
      : bytes.length;
    if (end > this.#maxLineBytes) return TOO_LONG;
    return { type: "line", text: decoder.decode(bytes.subarray(0, end)) };
  }
}

/**
 * Yields the lines read from `source` (see {@linkcode LineReader}).
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
  const reader = new LineReader(source, options);
  while (true) {
    const next = await reader.next();
    if (next.done) return;
    yield next.value;
  }
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
