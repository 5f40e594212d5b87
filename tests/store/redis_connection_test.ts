/**
 * What every Redis connection shares, on a real redis-server: reconnecting
 * with growing, jittered delays, logged as fields without the password, and
 * calls bounded in time, failing as StoreUnavailableError.
 */

import assert from "node:assert/strict";
import { createLogger, type Logger } from "../../lib/ops/log.ts";
import { CallTimeoutError, RedisCalls, RedisLink } from "../../lib/store/redis_connection.ts";
import { StoreUnavailableError } from "../../lib/store/store.ts";
import { RedisServer } from "../helpers/redis.ts";
import { poll } from "../helpers/poll.ts";

/** A JSON logger whose entries the test reads back. */
function capturingLogger(): { logger: Logger; entries: Record<string, unknown>[] } {
  const entries: Record<string, unknown>[] = [];
  const logger = createLogger("debug", {
    format: "json",
    write: (line) => entries.push(JSON.parse(line)),
  });
  return { logger, entries };
}

Deno.test("a connection that cannot reach Redis logs each retry with role, url and reason as fields, never the password, waiting longer each time", async () => {
  await using redis = await RedisServer.start({ appendOnly: false });
  await redis.stop();
  const password = "pw-" + crypto.randomUUID();
  const { logger, entries } = capturingLogger();
  const linking = RedisLink.connect({
    redis: { url: redis.url, username: "chat", password },
    role: "command",
    logger,
  });
  await poll("three retries logged", () => entries.length >= 3);
  // Connecting waits for Redis for as long as it takes: bring it back, with
  // the user it logs in as, to end the wait.
  await redis.restart();
  await redis.command("ACL", "SETUSER", "chat", "on", `>${password}`, "~*", "+@all");
  await (await linking).close();
  const retries = entries.slice(0, 3);
  for (const entry of retries) {
    assert.equal(entry.level, "warn");
    assert.equal(entry.msg, "Redis connection failed; retrying");
    assert.equal(entry.role, "command");
    assert.equal(entry.url, redis.url);
    assert.equal(typeof entry.reason, "string");
  }
  // Attempt n waits a random point in the upper half of 100 * 2^(n-1) ms.
  const delays = retries.map((entry) => entry.retryMs as number);
  for (const [i, delay] of delays.entries()) {
    const base = 100 * 2 ** i;
    assert.ok(delay >= base / 2 && delay <= base, `retry ${i + 1} waits ${delay} ms`);
  }
  assert.ok(!JSON.stringify(entries).includes(password), "the password is never logged");
});

Deno.test("a connection that comes back is logged as restored, with its role and url", async () => {
  await using redis = await RedisServer.start({ appendOnly: false });
  const { logger, entries } = capturingLogger();
  let restored = 0;
  const link = await RedisLink.connect({
    redis: { url: redis.url },
    role: "subscriber",
    logger,
    onRestored: () => restored++,
  });
  try {
    assert.equal(restored, 0, "the first connection is not a restoration");
    await redis.stop();
    await redis.restart();
    await poll("the connection restored", () => restored === 1);
    assert.deepEqual(
      entries
        .filter((entry) => entry.level === "info")
        .map(({ msg, role, url }) => ({ msg, role, url })),
      [{ msg: "Redis connection restored", role: "subscriber", url: redis.url }],
    );
  } finally {
    await link.close();
  }
});

Deno.test("a call Redis does not answer in time fails as StoreUnavailableError, caused by a CallTimeoutError, and is counted", async () => {
  await using redis = await RedisServer.start({ appendOnly: false });
  const { logger } = capturingLogger();
  const link = await RedisLink.connect({ redis: { url: redis.url }, role: "command", logger });
  let errors = 0;
  const calls = new RedisCalls(link, {
    label: "Redis test",
    timeoutMs: 200,
    onError: () => errors++,
  });
  try {
    assert.equal(await calls.send("k", ["SET", "k", "1"]), "OK");
    // WRITE pauses the SET but not the UNPAUSE below.
    await redis.command("CLIENT", "PAUSE", "10000", "WRITE");
    await assert.rejects(calls.send("k", ["SET", "k", "2"]), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.ok(error.cause instanceof CallTimeoutError, String(error.cause));
      assert.equal(error.message, "Redis test: no answer within 200 ms");
      return true;
    });
    assert.equal(errors, 1);
  } finally {
    await redis.command("CLIENT", "UNPAUSE");
    await link.close();
  }
});

Deno.test("a script is sent in full once, then called by the SHA-1 Redis knows it by, also after SCRIPT FLUSH", async () => {
  await using redis = await RedisServer.start({ appendOnly: false });
  const { logger } = capturingLogger();
  const link = await RedisLink.connect({ redis: { url: redis.url }, role: "command", logger });
  const calls = new RedisCalls(link, { label: "Redis test", timeoutMs: 5_000 });
  const script = "return redis.call('INCR', KEYS[1])";
  /** One field of a command's line in INFO commandstats. */
  const stat = async (command: string, field: string) => {
    const info = String(await redis.command("INFO", "commandstats"));
    const line = info.split("\n").find((line) => line.startsWith(`cmdstat_${command}:`)) ?? "";
    return Number(line.match(new RegExp(`\\b${field}=(\\d+)`))?.[1] ?? 0);
  };
  const stats = async () => ({
    eval: await stat("eval", "calls"),
    evalsha: await stat("evalsha", "calls"),
    refused: await stat("evalsha", "failed_calls"),
  });
  try {
    assert.equal(await calls.script(script, ["n"], []), 1);
    assert.deepEqual(await stats(), { eval: 1, evalsha: 0, refused: 0 });
    assert.equal(await calls.script(script, ["n"], []), 2);
    assert.deepEqual(await stats(), { eval: 1, evalsha: 1, refused: 0 });
    await redis.command("SCRIPT", "FLUSH");
    assert.equal(await calls.script(script, ["n"], []), 3);
    assert.deepEqual(await stats(), { eval: 2, evalsha: 2, refused: 1 });
  } finally {
    await link.close();
  }
});
