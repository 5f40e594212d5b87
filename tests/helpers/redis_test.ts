/**
 * Tests for the test helper in `helpers/redis.ts`: a private redis-server per
 * test file, and the tiny RESP client it uses.
 *
 * Run with (the helper needs run, net and write; read is only for the tests
 * that stat the temporary directory; /tmp is where Deno.makeTempDir puts it
 * unless TMPDIR says otherwise):
 *
 * deno test --allow-run=redis-server --allow-net=127.0.0.1 --allow-read=/tmp --allow-write=/tmp tests/helpers/redis_test.ts
 */
import assert from "node:assert/strict";
import {
  type ByteSource,
  encodeCommand,
  freePort,
  RedisServer,
  RespError,
  RespReader,
} from "./redis.ts";

/** A byte source that hands out `bytes` in pieces of `pieceSize` bytes. */
function chunked(bytes: Uint8Array, pieceSize: number): ByteSource {
  let offset = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (offset >= bytes.length) return Promise.resolve(null);
      const n = Math.min(pieceSize, p.length, bytes.length - offset);
      p.set(bytes.subarray(offset, offset + n));
      offset += n;
      return Promise.resolve(n);
    },
  };
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** True if something accepts TCP connections on 127.0.0.1:port. */
async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("freePort returns a loopback port that can be bound and is not 6379", async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
  assert.notEqual(port, 6379);
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  listener.close();
});

Deno.test("a started redis-server answers PING on its own port", async () => {
  await using redis = await RedisServer.start();
  assert.equal(redis.host, "127.0.0.1");
  assert.notEqual(redis.port, 6379);
  assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
  assert.equal(await redis.command("PING"), "PONG");
  assert.equal(
    await redis.command("CONFIG", "GET", "port").then((r) => (r as string[])[1]),
    String(redis.port),
  );
});

Deno.test("two servers started at once get different ports and separate data", async () => {
  await using a = await RedisServer.start();
  await using b = await RedisServer.start();
  assert.notEqual(a.port, b.port);
  assert.notEqual(a.dir, b.dir);
  await a.command("SET", "who", "a");
  assert.equal(await b.command("GET", "who"), null);
});

Deno.test("append-only mode is on by default and can be turned off", async () => {
  await using aof = await RedisServer.start();
  assert.deepEqual(await aof.command("CONFIG", "GET", "appendonly"), [
    "appendonly",
    "yes",
  ]);
  await using plain = await RedisServer.start({ appendOnly: false });
  assert.deepEqual(await plain.command("CONFIG", "GET", "appendonly"), [
    "appendonly",
    "no",
  ]);
  assert.deepEqual(await plain.command("CONFIG", "GET", "save"), ["save", ""]);
});

Deno.test("command returns each RESP reply type as a JS value", async () => {
  await using redis = await RedisServer.start();
  assert.equal(await redis.command("SET", "k", "v"), "OK");
  assert.equal(await redis.command("GET", "k"), "v");
  assert.equal(await redis.command("GET", "missing"), null);
  assert.equal(await redis.command("INCR", "n"), 1);
  assert.equal(await redis.command("INCRBY", "n", "-5"), -4);
  assert.equal(await redis.command("RPUSH", "list", "a", "", "ünïcødé ✓"), 3);
  assert.deepEqual(await redis.command("LRANGE", "list", "0", "-1"), [
    "a",
    "",
    "ünïcødé ✓",
  ]);
  assert.deepEqual(await redis.command("LRANGE", "nothing", "0", "-1"), []);
  assert.deepEqual(await redis.command("EVAL", "return {1, 'two', {3}}", "0"), [
    1,
    "two",
    [3],
  ]);
  assert.equal(await redis.command("SET", "crlf", "line1\r\nline2"), "OK");
  assert.equal(await redis.command("GET", "crlf"), "line1\r\nline2");
});

Deno.test("an error reply is thrown as a RespError carrying Redis's message", async () => {
  await using redis = await RedisServer.start();
  await redis.command("SET", "s", "text");
  await assert.rejects(redis.command("LPUSH", "s", "x"), (error: unknown) => {
    assert.ok(error instanceof RespError);
    assert.match(error.message, /^WRONGTYPE/);
    return true;
  });
  await assert.rejects(redis.command("NO-SUCH-COMMAND"), RespError);
});

Deno.test("a large reply that arrives in many TCP chunks is read whole", async () => {
  await using redis = await RedisServer.start();
  const big = "x".repeat(3 * 1024 * 1024 + 7);
  await redis.command("SET", "big", big);
  assert.equal(await redis.command("GET", "big"), big);
  const items = Array.from({ length: 5000 }, (_, i) => `item-${i}`);
  await redis.command("RPUSH", "many", ...items);
  assert.deepEqual(await redis.command("LRANGE", "many", "0", "-1"), items);
});

Deno.test("the reply parser gives the same result however the bytes are split", async () => {
  const wire = utf8(
    "*6\r\n+OK\r\n:-42\r\n$5\r\nhé\r\n\r\n$-1\r\n*2\r\n$0\r\n\r\n*-1\r\n*0\r\n+after\r\n",
  );
  for (const pieceSize of [1, 2, 3, 5, 7, 64, wire.length]) {
    const reader = new RespReader(chunked(wire, pieceSize));
    assert.deepEqual(
      await reader.readReply(),
      ["OK", -42, "hé\r\n", null, ["", null], []],
      `piece size ${pieceSize}`,
    );
    assert.equal(await reader.readReply(), "after", `piece size ${pieceSize}`);
  }
});

Deno.test("the reply parser throws on an error element but stays aligned", async () => {
  const reader = new RespReader(
    chunked(utf8("*2\r\n-ERR first\r\n:1\r\n+next\r\n"), 3),
  );
  await assert.rejects(reader.readReply(), {
    name: "RespError",
    message: "ERR first",
  });
  assert.equal(await reader.readReply(), "next");
});

Deno.test("the reply parser rejects a stream that ends mid-reply or is not RESP", async () => {
  await assert.rejects(
    new RespReader(chunked(utf8("$10\r\nabc"), 2)).readReply(),
    /connection closed/,
  );
  await assert.rejects(
    new RespReader(chunked(utf8("+OK"), 2)).readReply(),
    /connection closed/,
  );
  await assert.rejects(
    new RespReader(chunked(utf8("HTTP/1.1 200\r\n"), 4)).readReply(),
    /unexpected RESP/,
  );
  await assert.rejects(
    new RespReader(chunked(utf8(":12x\r\n"), 4)).readReply(),
    /bad RESP integer/,
  );
});

Deno.test("commands are encoded as RESP arrays of bulk strings with byte lengths", () => {
  assert.equal(
    new TextDecoder().decode(encodeCommand(["SET", "k", "é"])),
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n",
  );
});

Deno.test("data written before a restart is still there after it (AOF)", async () => {
  await using redis = await RedisServer.start();
  const { port, dir } = redis;
  await redis.command("RPUSH", "chat_history", "[alice]: hi", "[bob]: hello");
  await redis.command("SET", "counter", "41");
  await redis.restart();
  assert.equal(redis.port, port);
  assert.equal(redis.dir, dir);
  assert.ok(redis.running);
  assert.deepEqual(await redis.command("LRANGE", "chat_history", "0", "-1"), [
    "[alice]: hi",
    "[bob]: hello",
  ]);
  assert.equal(await redis.command("INCR", "counter"), 42);
});

Deno.test("without AOF, data does not survive a restart", async () => {
  await using redis = await RedisServer.start({ appendOnly: false });
  await redis.command("SET", "k", "v");
  await redis.restart();
  assert.equal(await redis.command("GET", "k"), null);
});

Deno.test("a stopped server refuses connections and keeps its directory", async () => {
  await using redis = await RedisServer.start();
  await redis.command("SET", "k", "v");
  await redis.stop();
  assert.equal(redis.running, false);
  assert.equal(await accepts(redis.port), false);
  await assert.rejects(redis.command("PING"), Deno.errors.ConnectionRefused);
  const stat = await Deno.stat(redis.dir);
  assert.ok(stat.isDirectory);
});

Deno.test("stop is idempotent, also when called concurrently", async () => {
  await using redis = await RedisServer.start();
  await Promise.all([redis.stop(), redis.stop()]);
  await redis.stop();
  assert.equal(redis.running, false);
});

Deno.test("a stopped server can be started again with restart", async () => {
  await using redis = await RedisServer.start();
  await redis.command("SET", "k", "v");
  await redis.stop();
  await redis.restart();
  assert.equal(await redis.command("GET", "k"), "v");
});

Deno.test("disposing stops the server and removes its directory", async () => {
  let port: number;
  let dir: string;
  {
    await using redis = await RedisServer.start();
    port = redis.port;
    dir = redis.dir;
  }
  assert.equal(await accepts(port), false);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("restart retries while something else still holds the port", async () => {
  await using redis = await RedisServer.start();
  await redis.stop();
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: redis.port });
  let released = false;
  const timer = setTimeout(() => {
    released = true;
    squatter.close();
  }, 300);
  try {
    await redis.restart();
  } finally {
    clearTimeout(timer);
    if (!released) squatter.close();
  }
  assert.ok(released, "restart succeeded while the port was still held");
  assert.equal(await redis.command("PING"), "PONG");
});
