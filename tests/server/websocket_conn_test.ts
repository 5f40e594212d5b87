/**
 * {@linkcode WebSocketConn} over real sockets: a `Deno.serve` upgrade on one
 * side, a Deno WebSocket (or a raw TCP peer that never reads) on the other.
 */

import assert from "node:assert/strict";
import { SocketClosedError, WebSocketConn } from "../../lib/server/websocket_conn.ts";
import { readLines } from "../../lib/util/line_reader.ts";
import { EXPIRED, within } from "../../lib/util/deadline.ts";

const MAX_LINE = 64;

/** A server handing its one upgraded socket to the test as a WebSocketConn. */
async function withServer(
  run: (conn: Promise<WebSocketConn>, url: string) => Promise<void>,
  options: { lowWaterBytes?: number } = {},
): Promise<void> {
  const { promise: accepted, resolve } = Promise.withResolvers<WebSocketConn>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req, info) => {
    // The address is gone from `info` once the request is upgraded.
    const remote = info.remoteAddr as Deno.NetAddr;
    const { socket, response } = Deno.upgradeWebSocket(req);
    resolve(new WebSocketConn(socket, remote, { maxLineBytes: MAX_LINE, ...options }));
    return response;
  });
  try {
    await run(accepted, `ws://127.0.0.1:${server.addr.port}/`);
  } finally {
    await server.shutdown();
  }
}

/** A browser-like client: its frames as they arrive, and its close. */
async function open(url: string) {
  const socket = new WebSocket(url);
  const frames: unknown[] = [];
  const closed = new Promise<number>((resolve) => socket.onclose = (event) => resolve(event.code));
  socket.onmessage = (event) => frames.push(event.data);
  await new Promise((resolve) => socket.onopen = resolve);
  return { socket, frames, closed };
}

Deno.test("each text frame reaches the session as one line, and each line written leaves as one frame", async () => {
  await withServer(async (accepted, url) => {
    const client = await open(url);
    const conn = await accepted;
    client.socket.send('{"type":"hello","user":"alice"}');
    client.socket.send('{"type":"who"}');
    const lines = readLines(conn, { maxLineBytes: MAX_LINE });
    assert.deepEqual((await lines.next()).value, {
      type: "line",
      text: '{"type":"hello","user":"alice"}',
    });
    assert.deepEqual((await lines.next()).value, { type: "line", text: '{"type":"who"}' });
    const bytes = new TextEncoder().encode('{"a":1}\n{"b":"é"}\n');
    assert.equal(await conn.write(bytes), bytes.length);
    conn.close();
    assert.equal(await client.closed, 1000);
    assert.deepEqual(client.frames, ['{"a":1}', '{"b":"é"}']);
    assert.equal((await lines.next()).done, true, "reads end after the close");
  });
});

for (
  const [name, frame, code] of [
    ["a first frame that is not a JSON hello", "alice", "bad_hello"],
    ["a binary frame", new Uint8Array([123, 125]), "bad_request"],
    ["a frame with a line break inside", '{"type":"hello",\n"user":"a"}', "bad_request"],
  ] as const
) {
  Deno.test(`${name} is answered with a fatal error and the close`, async () => {
    await withServer(async (accepted, url) => {
      const client = await open(url);
      const conn = await accepted;
      client.socket.send(frame);
      assert.equal(await client.closed, 1008);
      const error = JSON.parse(client.frames[0] as string);
      assert.equal(error.code, code);
      assert.equal(error.fatal, true);
      assert.equal(await conn.read(new Uint8Array(16)), null, "the session reads nothing of it");
    });
  });
}

Deno.test("a frame over the line cap reaches the session as an over-long line, then input goes on", async () => {
  await withServer(async (accepted, url) => {
    const client = await open(url);
    const conn = await accepted;
    client.socket.send(`{"type":"hello","user":"${"a".repeat(10_000)}"}`);
    client.socket.send('{"type":"ping"}');
    const lines = readLines(conn, { maxLineBytes: MAX_LINE });
    assert.deepEqual((await lines.next()).value, { type: "too_long" });
    assert.deepEqual((await lines.next()).value, { type: "line", text: '{"type":"ping"}' });
    conn.close();
    await client.closed;
  });
});

Deno.test("write waits while a peer that does not read leaves output buffered, and fails once closed", async () => {
  await withServer(async (accepted, url) => {
    // A raw TCP peer that does the handshake and then never reads again.
    const { port } = new URL(url);
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
    await tcp.write(new TextEncoder().encode(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    ));
    await tcp.read(new Uint8Array(1024));
    const conn = await accepted;
    const line = new TextEncoder().encode(`${"x".repeat(1 << 20)}\n`);
    // Loopback buffers hold a few MiB at most: well before 256 MiB a write must wait.
    let waiting: Promise<number> | null = null;
    for (let i = 0; i < 256 && waiting === null; i++) {
      const write = conn.write(line);
      if (await within(write, 1_000) === EXPIRED) waiting = write;
    }
    assert.ok(waiting, "a write waited for the peer");
    conn.close();
    await assert.rejects(waiting, SocketClosedError);
    tcp.close();
  }, { lowWaterBytes: 65_536 });
});
