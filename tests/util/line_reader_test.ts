/**
 * The bounded line reader: framing across arbitrary chunk boundaries, the
 * line-length cap (including a 100 MiB line that is never held in memory),
 * UTF-8 decoding, and the idle flush of unterminated lines over real TCP.
 */

import assert from "node:assert/strict";
import {
  type ByteSource,
  type Line,
  LineReader,
  type LineReaderOptions,
  readLines,
} from "../../lib/util/line_reader.ts";
import { tcpPair } from "../helpers/tcp.ts";
import { sleep } from "../../lib/util/deadline.ts";

const encoder = new TextEncoder();

/**
 * An in-memory source that hands out `chunks` one after another, never more
 * than `maxPerRead` bytes (or the caller's buffer) per read, and records the
 * size of every buffer it was given.
 */
class ChunkSource implements ByteSource {
  readonly bufferSizes: number[] = [];
  readonly #chunks: Uint8Array[];
  readonly #maxPerRead: number;
  #index = 0;
  #offset = 0;

  constructor(chunks: (string | Uint8Array)[], maxPerRead = Infinity) {
    this.#chunks = chunks.map((chunk) => typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    this.#maxPerRead = maxPerRead;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.bufferSizes.push(buffer.length);
    while (this.#index < this.#chunks.length && this.#offset >= this.#chunks[this.#index].length) {
      this.#index++;
      this.#offset = 0;
    }
    if (this.#index >= this.#chunks.length) return Promise.resolve(null);
    const chunk = this.#chunks[this.#index];
    const n = Math.min(buffer.length, this.#maxPerRead, chunk.length - this.#offset);
    buffer.set(chunk.subarray(this.#offset, this.#offset + n));
    this.#offset += n;
    return Promise.resolve(n);
  }
}

async function collect(source: ByteSource, options: LineReaderOptions): Promise<Line[]> {
  const out: Line[] = [];
  for await (const line of readLines(source, options)) out.push(line);
  return out;
}

const line = (text: string): Line => ({ type: "line", text });
const TOO_LONG: Line = { type: "too_long" };

Deno.test("lines split across chunk boundaries arrive whole and in order", async () => {
  const source = new ChunkSource(["hel", "lo\nwor", "ld\n", "\nlast", " one\n"]);
  assert.deepEqual(await collect(source, { maxLineBytes: 100 }), [
    line("hello"),
    line("world"),
    line(""),
    line("last one"),
  ]);
});

Deno.test("lines fed one byte at a time arrive whole, multi-byte characters included", async () => {
  const text = "héllo wörld\n李雷 says 👨‍👩‍👧 hi\r\n\nend\n";
  const source = new ChunkSource([text], 1);
  assert.deepEqual(await collect(source, { maxLineBytes: 100 }), [
    line("héllo wörld"),
    line("李雷 says 👨‍👩‍👧 hi"),
    line(""),
    line("end"),
  ]);
});

Deno.test("a multi-byte UTF-8 character split between two chunks is decoded intact", async () => {
  const bytes = encoder.encode("café 😀\n");
  // "é" is 2 bytes at offset 3; "😀" is 4 bytes at offset 6.
  const source = new ChunkSource([
    bytes.subarray(0, 4),
    bytes.subarray(4, 8),
    bytes.subarray(8),
  ]);
  assert.deepEqual(await collect(source, { maxLineBytes: 100 }), [line("café 😀")]);
});

Deno.test("a CRLF line ending is stripped, also when CR and LF arrive in separate chunks", async () => {
  const source = new ChunkSource(["one\r\ntwo\r", "\nthree\n"]);
  assert.deepEqual(await collect(source, { maxLineBytes: 100 }), [
    line("one"),
    line("two"),
    line("three"),
  ]);
});

Deno.test("a final line without a newline is yielded at end of input", async () => {
  const source = new ChunkSource(["first\nsecond wi", "thout newline"]);
  assert.deepEqual(await collect(source, { maxLineBytes: 100 }), [
    line("first"),
    line("second without newline"),
  ]);
});

Deno.test("empty lines are yielded as empty strings", async () => {
  const source = new ChunkSource(["\n\r\n\na\n\n"]);
  assert.deepEqual(await collect(source, { maxLineBytes: 100 }), [
    line(""),
    line(""),
    line(""),
    line("a"),
    line(""),
  ]);
});

Deno.test("a line of exactly maxLineBytes is accepted", async () => {
  const exact = "x".repeat(64);
  const source = new ChunkSource([`${exact}\n`, `${exact}`], 10);
  assert.deepEqual(await collect(source, { maxLineBytes: 64 }), [line(exact), line(exact)]);
});

Deno.test("a line of exactly maxLineBytes ending in CRLF is accepted, the CR being part of the line break", async () => {
  // The limit counts the line's bytes "not counting the line break"; CRLF is
  // a line break, so its CR must not push an exact-length line over.
  const exact = "y".repeat(64);
  const whole = new ChunkSource([`${exact}\r\nnext\r\n`]);
  assert.deepEqual(await collect(whole, { maxLineBytes: 64 }), [line(exact), line("next")]);
  // The CR may arrive before its LF, in an earlier chunk.
  const split = new ChunkSource([`${exact}\r`, "\nnext\r\n"]);
  assert.deepEqual(await collect(split, { maxLineBytes: 64 }), [line(exact), line("next")]);
});

Deno.test("a line one byte over the limit is reported once, even over many chunks, and the next line arrives intact", async () => {
  const over = "z".repeat(65);
  for (const maxPerRead of [1, 7, 64, 65, 66, Infinity]) {
    const source = new ChunkSource([`${over}\nnext line\n${over}`], maxPerRead);
    assert.deepEqual(
      await collect(source, { maxLineBytes: 64 }),
      [TOO_LONG, line("next line"), TOO_LONG],
      `with at most ${maxPerRead} bytes per read`,
    );
  }
});

Deno.test("a multi-byte line is measured in bytes, not characters", async () => {
  // 22 three-byte characters are 66 bytes; 21 are 63.
  const source = new ChunkSource([`${"李".repeat(22)}\n${"李".repeat(21)}\n`]);
  assert.deepEqual(await collect(source, { maxLineBytes: 64 }), [
    TOO_LONG,
    line("李".repeat(21)),
  ]);
});

Deno.test("a 100 MiB line without a newline yields one too_long then the next line, reading in bounded pieces", async () => {
  const total = 100 * 1024 * 1024;
  const tail = encoder.encode("\nafter\n");
  const maxBufferBytes = 16 * 1024;
  const maxLineBytes = 4096;
  const sizes = new Set<number>();
  let served = 0;
  // Generates the line on demand: the 100 MiB never exist in memory at once.
  const source: ByteSource = {
    read(buffer) {
      sizes.add(buffer.length);
      if (served < total) {
        const n = Math.min(buffer.length, total - served);
        buffer.fill(0x78, 0, n);
        served += n;
        return Promise.resolve(n);
      }
      const offset = served - total;
      if (offset >= tail.length) return Promise.resolve(null);
      const n = Math.min(buffer.length, tail.length - offset);
      buffer.set(tail.subarray(offset, offset + n));
      served += n;
      return Promise.resolve(n);
    },
  };
  const lines: Line[] = [];
  let servedAtTooLong = -1;
  for await (const item of readLines(source, { maxLineBytes, maxBufferBytes })) {
    if (item.type === "too_long" && servedAtTooLong === -1) servedAtTooLong = served;
    lines.push(item);
  }
  assert.deepEqual(lines, [TOO_LONG, line("after")]);
  assert.equal(served, total + tail.length, "the whole input was consumed");
  assert.ok(
    Math.max(...sizes) <= maxBufferBytes,
    `read buffers stay at most ${maxBufferBytes} bytes; saw ${[...sizes].sort((a, b) => a - b)}`,
  );
  assert.ok(
    servedAtTooLong <= maxLineBytes + maxBufferBytes,
    `too_long is reported as soon as the limit is crossed, not at the newline (after ${servedAtTooLong} bytes)`,
  );
});

Deno.test("the read buffer starts at minBufferBytes, never exceeds maxBufferBytes, and shrinks back once idle", async () => {
  const long = "a".repeat(3000);
  const source = new ChunkSource([`${long}\n`, "x\n", "y\n"]);
  const lines = await collect(source, {
    maxLineBytes: 4096,
    minBufferBytes: 128,
    maxBufferBytes: 1024,
  });
  assert.deepEqual(lines, [line(long), line("x"), line("y")]);
  assert.equal(source.bufferSizes[0], 128);
  assert.ok(Math.max(...source.bufferSizes) <= 1024, `sizes ${source.bufferSizes}`);
  assert.ok(source.bufferSizes.includes(1024), "the buffer grew while the long line streamed in");
  assert.equal(source.bufferSizes.at(-1), 128, "the buffer shrank back after the long line");
});

Deno.test("invalid UTF-8 bytes become U+FFFD without throwing", async () => {
  const source = new ChunkSource([
    new Uint8Array([0x61, 0xff, 0x62, 0x0a]), // a, invalid byte, b
    new Uint8Array([0xc3, 0x28, 0x0a]), // bad continuation
    new Uint8Array([0x6f, 0x6b, 0x0a]), // ok
    new Uint8Array([0xe2, 0x82]), // truncated at end of input
  ]);
  const lines = await collect(source, { maxLineBytes: 100 });
  assert.deepEqual(lines.slice(0, 3), [line("a\uFFFDb"), line("\uFFFD("), line("ok")]);
  assert.equal(lines.length, 4);
  const last = lines[3];
  assert.equal(last.type, "line");
  assert.ok(last.type === "line" && /^\uFFFD+$/.test(last.text), JSON.stringify(last));
});

/** `promise`, or a rejection after `ms` milliseconds; the timer never outlives it. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a partial line followed by silence is yielded as a line (idle flush over TCP)", async () => {
  const { client, server } = await tcpPair();
  try {
    const lines = readLines(server, { maxLineBytes: 100, idleFlushMs: 50 });
    await client.write(encoder.encode("alice"));
    const first = await within(lines.next(), 1000, "idle flush");
    assert.deepEqual(first, { done: false, value: line("alice") });

    // Later lines are unaffected by the flush.
    await client.write(encoder.encode("hello\n"));
    assert.deepEqual(await within(lines.next(), 1000, "next line"), {
      done: false,
      value: line("hello"),
    });

    client.close();
    assert.deepEqual(await within(lines.next(), 1000, "end of input"), {
      done: true,
      value: undefined,
    });
  } finally {
    try {
      client.close();
    } catch {
      // Closed above.
    }
    server.close();
  }
});

Deno.test("bytes that complete a line before the idle period are not split by the idle flush", async () => {
  const { client, server } = await tcpPair();
  try {
    const lines = readLines(server, { maxLineBytes: 100, idleFlushMs: 1000 });
    const next = lines.next();
    await client.write(encoder.encode("al"));
    await sleep(20);
    await client.write(encoder.encode("ice\nbo"));
    await client.write(encoder.encode("b\n"));
    assert.deepEqual(await within(next, 5000, "first line"), {
      done: false,
      value: line("alice"),
    });
    assert.deepEqual(await within(lines.next(), 5000, "second line"), {
      done: false,
      value: line("bob"),
    });
    client.close();
    assert.equal((await within(lines.next(), 5000, "end of input")).done, true);
  } finally {
    try {
      client.close();
    } catch {
      // Closed above.
    }
    server.close();
  }
});

Deno.test("an overlong line is not idle-flushed: silence while discarding yields nothing until its newline", async () => {
  const { client, server } = await tcpPair();
  try {
    const lines = readLines(server, { maxLineBytes: 8, idleFlushMs: 30 });
    await client.write(encoder.encode("0123456789abc"));
    assert.deepEqual(await within(lines.next(), 1000, "too_long"), {
      done: false,
      value: TOO_LONG,
    });
    const next = lines.next();
    // Several idle periods pass while the rest of the long line is pending.
    await sleep(150);
    await client.write(encoder.encode("def\nshort\n"));
    assert.deepEqual(await within(next, 1000, "line after the long one"), {
      done: false,
      value: line("short"),
    });
    client.close();
    assert.equal((await within(lines.next(), 1000, "end of input")).done, true);
  } finally {
    try {
      client.close();
    } catch {
      // Closed above.
    }
    server.close();
  }
});

Deno.test("while no partial line waits, a read is the source's own read, so an idle reader holds nothing else", async () => {
  const waiting = Promise.withResolvers<number | null>();
  const source: ByteSource = { read: () => waiting.promise };
  const reader = new LineReader(source, { maxLineBytes: 100, idleFlushMs: 50 });
  assert.equal(reader.take(), undefined);
  assert.equal(reader.read(), waiting.promise);
  waiting.resolve(null);
  reader.receive(await reader.read());
  assert.equal(reader.take(), undefined);
  assert.equal(reader.done, true);
});

Deno.test("lines already read are taken one by one without reading again", async () => {
  const source = new ChunkSource(["one\ntwo\nthr", "ee\n"]);
  const reader = new LineReader(source, { maxLineBytes: 100 });
  reader.receive(await reader.read());
  assert.deepEqual([reader.take(), reader.take(), reader.take()], [
    line("one"),
    line("two"),
    undefined,
  ]);
  assert.equal(source.bufferSizes.length, 1, "one read so far");
  reader.receive(await reader.read());
  assert.deepEqual(reader.take(), line("three"));
});

Deno.test("closing the connection ends a waiting read, also while a partial line waits for its flush, and leaves no timer", async () => {
  for (const bytes of ["", "part"]) {
    const { client, server } = await tcpPair();
    try {
      const reader = new LineReader(server, { maxLineBytes: 100, idleFlushMs: 60_000 });
      if (bytes) {
        await client.write(encoder.encode(bytes));
        reader.receive(await reader.read());
        assert.equal(reader.take(), undefined, "a partial line is not a line yet");
      }
      const waiting = reader.read();
      server.close();
      await assert.rejects(within(waiting, 1000, "end after close"), Deno.errors.Interrupted);
    } finally {
      client.close();
    }
  }
});
