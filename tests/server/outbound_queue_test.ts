/**
 * The bounded outbound queue and the shared flush timer, over real loopback
 * TCP sockets: coalescing, the byte limit (in-flight bytes included), slow and
 * vanished peers, `drain` and `send`.
 */

import assert from "node:assert/strict";
import { type ByteSink, OutboundQueue } from "../../lib/server/outbound_queue.ts";
import { FlushScheduler } from "../../lib/server/flush_scheduler.ts";
import { tcpPair } from "../helpers/tcp.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A loopback TCP pair: `writer` is the queue's side, `peer` the reader. */
async function writerAndPeer(): Promise<{ writer: Deno.TcpConn; peer: Deno.TcpConn }> {
  const { client, server } = await tcpPair();
  return { writer: client, peer: server };
}

/** Forwards to the real connection and counts the write calls. */
class CountingSink implements ByteSink {
  writes = 0;
  readonly #conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  write(bytes: Uint8Array): Promise<number> {
    this.writes++;
    return this.#conn.write(bytes);
  }
}

/** Reads exactly `length` bytes from `conn` (fails on end of input or on extra bytes). */
async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let received = 0;
  const buffer = new Uint8Array(64 * 1024);
  while (received < length) {
    const n = await conn.read(buffer.subarray(0, Math.min(buffer.length, length - received)));
    if (n === null) throw new Error(`end of input after ${received} of ${length} bytes`);
    out.set(buffer.subarray(0, n), received);
    received += n;
  }
  return out;
}

/** `length` bytes of a recognisable pattern starting at `seed`. */
function pattern(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed + i * 7 + (i >> 10)) & 0xff;
  return bytes;
}

function close(...conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

Deno.test("many lines pushed in one turn reach the peer intact and in order in one or two writes", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const sink = new CountingSink(writer);
  const queue = new OutboundQueue(sink, { limitBytes: 1 << 20, scheduler });
  try {
    const lines = Array.from({ length: 1000 }, (_, i) => `[user${i % 7}]: message number ${i}\n`);
    for (const line of lines) assert.equal(queue.push(encoder.encode(line)), true);
    assert.equal(sink.writes, 0, "nothing is written before the shared timer fires");
    const expected = lines.join("");
    const received = await readExactly(peer, encoder.encode(expected).length);
    assert.equal(decoder.decode(received), expected);
    assert.ok(sink.writes <= 2, `${lines.length} lines took ${sink.writes} writes`);
    assert.equal(await queue.drain(), true);
    assert.equal(queue.bytes, 0);
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});

Deno.test("one tick of the shared scheduler starts the writes of every queue with output", async () => {
  const a = await writerAndPeer();
  const b = await writerAndPeer();
  // Pushes and flushNow() run in one turn: nothing else can start these writes.
  const scheduler = new FlushScheduler();
  const sinkA = new CountingSink(a.writer);
  const sinkB = new CountingSink(b.writer);
  const queueA = new OutboundQueue(sinkA, { limitBytes: 4096, scheduler });
  const queueB = new OutboundQueue(sinkB, { limitBytes: 4096, scheduler });
  try {
    queueA.push(encoder.encode("to a 1\n"));
    queueB.push(encoder.encode("to b\n"));
    queueA.push(encoder.encode("to a 2\n"));
    assert.deepEqual([sinkA.writes, sinkB.writes], [0, 0]);
    scheduler.flushNow();
    assert.deepEqual([sinkA.writes, sinkB.writes], [1, 1], "both writes start at the tick");
    assert.equal(decoder.decode(await readExactly(a.peer, 14)), "to a 1\nto a 2\n");
    assert.equal(decoder.decode(await readExactly(b.peer, 5)), "to b\n");
    assert.equal(await queueA.drain(), true);
    assert.equal(await queueB.drain(), true);
  } finally {
    scheduler.flushNow();
    close(a.writer, a.peer, b.writer, b.peer);
  }
});

Deno.test("push refuses once the limit would be passed, and bytes counts queued bytes", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const queue = new OutboundQueue(writer, { limitBytes: 100, scheduler });
  try {
    assert.equal(queue.bytes, 0);
    assert.equal(queue.push(pattern(60, 1)), true);
    assert.equal(queue.bytes, 60);
    assert.equal(queue.push(pattern(41, 2)), false, "60 + 41 would pass 100");
    assert.equal(queue.bytes, 60, "a refused push queues nothing");
    assert.equal(queue.push(pattern(40, 3)), true, "60 + 40 is exactly the limit");
    assert.equal(queue.bytes, 100);
    assert.equal(queue.push(pattern(1, 4)), false);

    const received = await readExactly(peer, 100);
    assert.deepEqual(received, new Uint8Array([...pattern(60, 1), ...pattern(40, 3)]));
    assert.equal(await queue.drain(), true);
    assert.equal(queue.bytes, 0);
    assert.equal(queue.push(pattern(100, 5)), true, "room again once written");
    assert.deepEqual(await readExactly(peer, 100), pattern(100, 5));
    assert.equal(await queue.drain(), true);
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});

Deno.test("bytes still being written count against the limit until the peer has taken them", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const limit = 16 * 1024 * 1024;
  const queue = new OutboundQueue(writer, { limitBytes: limit, scheduler });
  try {
    const big = pattern(limit, 9);
    assert.equal(queue.push(big), true);
    // The peer does not read: the write starts but cannot finish (the
    // kernel's loopback buffers hold a few MiB, not 16).
    assert.equal(await queue.drain(100), false);
    assert.equal(queue.bytes, limit, "the in-flight batch is still counted");
    assert.equal(queue.push(new Uint8Array(1)), false);

    const reading = readExactly(peer, limit);
    assert.equal(await queue.drain(), true);
    assert.deepEqual(await reading, big);
    assert.equal(queue.bytes, 0);
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});

Deno.test("when the peer does not read, pushing eventually refuses and bytes never passes the limit", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const limit = 256 * 1024;
  const chunkBytes = 16 * 1024;
  const queue = new OutboundQueue(writer, { limitBytes: limit, scheduler });
  const accepted: Uint8Array[] = [];
  try {
    let refused = false;
    // Far more than the kernel buffers plus the limit; a queue that never
    // refuses would fail here instead of growing without bound.
    for (let i = 0; i < 4096 && !refused; i++) {
      const chunk = pattern(chunkBytes, i);
      if (queue.push(chunk)) {
        accepted.push(chunk);
      } else {
        refused = true;
      }
      assert.ok(queue.bytes <= limit, `bytes ${queue.bytes} passed the limit ${limit}`);
      // Let the writer move what it can into the socket.
      await queue.drain(2);
    }
    assert.ok(refused, "push refused once the peer stopped reading");
    assert.ok(queue.bytes > limit - chunkBytes, `refused only when full (bytes ${queue.bytes})`);

    // Nothing accepted was lost or reordered: the peer now reads it all.
    const total = accepted.length * chunkBytes;
    const reading = readExactly(peer, total);
    assert.equal(await queue.drain(), true);
    const received = await reading;
    for (let i = 0; i < accepted.length; i++) {
      assert.deepEqual(received.subarray(i * chunkBytes, (i + 1) * chunkBytes), accepted[i]);
    }
    assert.equal(queue.bytes, 0);
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});

Deno.test("drain returns false at its timeout while the peer does not read, and true once it does", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const queue = new OutboundQueue(writer, { limitBytes: 64 * 1024 * 1024, scheduler });
  try {
    assert.equal(await queue.drain(50), true, "an empty queue is drained at once");
    const size = 32 * 1024 * 1024;
    assert.equal(queue.push(pattern(size, 3)), true);
    assert.equal(await queue.drain(100), false);
    const reading = readExactly(peer, size);
    assert.equal(await queue.drain(30_000), true);
    assert.equal((await reading).length, size);
    assert.equal(queue.bytes, 0);
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});

Deno.test("a write failure after the peer closed calls onError once, and later pushes are dropped without throwing", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const sink = new CountingSink(writer);
  const errors: Error[] = [];
  const queue = new OutboundQueue(sink, {
    limitBytes: 1 << 20,
    scheduler,
    onError: (error) => errors.push(error),
  });
  try {
    peer.close();
    // The first write after the close may still be accepted by the kernel;
    // the peer answers it with a reset, and a following write fails.
    for (let i = 0; i < 200 && errors.length === 0; i++) {
      queue.push(pattern(64 * 1024, i));
      await queue.drain(5_000);
    }
    assert.equal(errors.length, 1, "onError was called");
    assert.ok(errors[0] instanceof Error);

    const writesAtError = sink.writes;
    for (let i = 0; i < 10; i++) {
      assert.doesNotThrow(() => queue.push(pattern(1024, i)));
    }
    await queue.drain(1_000);
    scheduler.flushNow();
    assert.equal(sink.writes, writesAtError, "nothing more is written after the failure");
    assert.equal(errors.length, 1, "onError is called only once");
    assert.equal(await queue.send(pattern(10)), false, "send on a failed queue reports false");
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});

Deno.test("send writes past the limit, after what was queued, and resolves true once written", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const limit = 4096;
  const queue = new OutboundQueue(writer, { limitBytes: limit, scheduler });
  try {
    const first = encoder.encode("queued first\n");
    const big = pattern(256 * 1024, 5);
    assert.equal(queue.push(first), true);
    const sent = queue.send(big, 30_000);
    assert.equal(queue.bytes, first.length + big.length, "send queues past the limit");
    assert.equal(queue.push(encoder.encode("x\n")), false, "while over the limit, push refuses");

    const received = await readExactly(peer, first.length + big.length);
    assert.equal(await sent, true);
    assert.deepEqual(received, new Uint8Array([...first, ...big]));
    assert.equal(queue.bytes, 0);
    assert.equal(queue.push(encoder.encode("after\n")), true, "room again once written");
    assert.equal(decoder.decode(await readExactly(peer, 6)), "after\n");
    assert.equal(await queue.drain(), true);
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});

Deno.test("a closed queue drops what it held and everything pushed later, writing nothing", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const sink = new CountingSink(writer);
  const queue = new OutboundQueue(sink, { limitBytes: 4096, scheduler });
  try {
    queue.push(encoder.encode("never sent\n"));
    queue.close();
    assert.doesNotThrow(() => queue.push(encoder.encode("also dropped\n")));
    scheduler.flushNow();
    await queue.drain(1_000);
    assert.equal(await queue.send(encoder.encode("nor this\n")), false);
    assert.equal(sink.writes, 0);
    writer.close();
    assert.equal(await peer.read(new Uint8Array(64)), null, "the peer received nothing");
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});

Deno.test("the queue reports its reader too slow once: past the hard limit, or over the soft limit for too long", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const reasons: string[] = [];
  const big = pattern(16 * 1024 * 1024, 4);
  const queue = new OutboundQueue(writer, {
    limitBytes: 32 * 1024 * 1024,
    softLimitBytes: 1024 * 1024,
    softMs: 20,
    scheduler,
    onSlow: (reason) => reasons.push(reason),
  });
  try {
    assert.equal(queue.push(big), true);
    // The peer does not read, so the batch stays in flight, over the soft limit.
    assert.equal(await queue.drain(50), false);
    assert.deepEqual(reasons, []);
    assert.equal(queue.push(new Uint8Array(1)), true);
    assert.deepEqual(reasons, [
      "more than 1048576 bytes waiting to be read for over 0.02 s",
    ]);
    assert.equal(queue.push(pattern(17 * 1024 * 1024)), false, "past the hard limit");
    assert.equal(reasons.length, 1, "reported only once");

    const reading = readExactly(peer, big.length + 1);
    assert.equal(await queue.drain(), true);
    await reading;
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});

Deno.test("a push past the hard limit reports the reader too slow", async () => {
  const { writer, peer } = await writerAndPeer();
  const scheduler = new FlushScheduler();
  const reasons: string[] = [];
  const queue = new OutboundQueue(writer, {
    limitBytes: 100,
    scheduler,
    onSlow: (reason) => reasons.push(reason),
  });
  try {
    assert.equal(queue.push(pattern(100)), true);
    assert.deepEqual(reasons, []);
    assert.equal(queue.push(pattern(1)), false);
    assert.deepEqual(reasons, ["more than 100 bytes waiting to be read"]);
    await readExactly(peer, 100);
    assert.equal(await queue.drain(), true);
  } finally {
    scheduler.flushNow();
    close(writer, peer);
  }
});
