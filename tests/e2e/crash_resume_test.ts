/**
 * A client survives the crash of its replica: real server processes on one
 * real redis-server (AOF on), the real client fed by a pipe the way the
 * issue's `(for i in $(seq 300); ...) | deno task client` did, and the
 * replica killed with SIGKILL mid-stream, so that it releases nothing.
 *
 * The client must take its name back at once with its resume token (the dead
 * replica's claim still lives for `PRESENCE_TTL`), be chatting again within
 * 2 s of a replica being reachable, and every line it was given must be in
 * the history exactly once, in order. The history is read straight from
 * Redis, not through the code under test.
 *
 * "Another replica" is modelled as a load balancer would do it: the client
 * knows one address, a relay in front of two replicas that sends new
 * connections to replica 2 once replica 1 is dead (as a Kubernetes Service
 * does when a pod goes away).
 */

import assert from "node:assert/strict";
import { ClientProcess } from "../helpers/client_process.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";
import { TcpRelay } from "../helpers/tcp_relay.ts";
import { sleep } from "../../lib/util/deadline.ts";

/** The test is about crash survival, not about the rate limit. */
const UNLIMITED = { RATE_LIMIT: "1000", RATE_BURST: "1000" };

const LINES = 300;

/** The texts of the messages stored in the list, oldest first, read with plain LRANGE. */
async function storedTexts(redis: RedisServer): Promise<string[]> {
  const raw = await redis.command("LRANGE", "chat_history", "0", "-1") as string[];
  return raw.map((entry) => JSON.parse(entry).text);
}

/** Feeds m1..m300 to the client, one line per 20 ms, then `exit`. */
async function feed(client: ClientProcess): Promise<void> {
  for (let i = 1; i <= LINES; i++) {
    await client.write(`m${i}\n`);
    await sleep(20);
  }
  await client.write("exit\n");
  await client.closeStdin();
}

/**
 * Runs the scenario: a client joins through `port`, sends; once m50 is
 * confirmed, `crash` kills its replica and makes another one reachable,
 * resolving at the moment it is. Returns ms from then to the client being
 * back, with the client's exit code checked and the history compared.
 */
async function survive(
  redis: RedisServer,
  port: number,
  crash: () => Promise<void>,
): Promise<number> {
  await using client = await ClientProcess.start(["127.0.0.1", String(port), "alice"]);
  await client.until((_, err) => err.includes("connected to"), "the client to join");
  const feeding = feed(client);
  await client.until((out) => out.includes("alice: m50\n"), "the receipt of m50", 20_000);
  await crash();
  const reachable = Date.now();
  await client.until((_, err) => err.includes("reconnected"), "the client to resume", 20_000);
  const backAfterMs = Date.now() - reachable;
  await feeding;
  assert.equal((await client.exit(30_000)).code, 0, client.stderr);
  assert.ok(!client.stderr.includes("not sent"), client.stderr);
  assert.deepEqual(
    await storedTexts(redis),
    Array.from({ length: LINES }, (_, i) => `m${i + 1}`),
    "every line stored exactly once, in order",
  );
  return backAfterMs;
}

Deno.test("a client whose replica is SIGKILLed takes its name back from a restart on the same port within 2 s, losing nothing", async () => {
  await using redis = await RedisServer.start();
  const env = { REDIS_URL: redis.url, ...UNLIMITED };
  await using first = await ServerProcess.start({ env });
  let second: ServerProcess | undefined;
  try {
    const backAfterMs = await survive(redis, first.port, async () => {
      await first.stop("SIGKILL");
      second = await ServerProcess.start({ env, port: first.port });
    });
    assert.ok(backAfterMs < 2_000, `chatting again ${backAfterMs} ms after the restart`);
    assert.match(second!.logs, /name taken back/);
  } finally {
    await second?.[Symbol.asyncDispose]();
  }
});

Deno.test("a client whose replica is SIGKILLed moves to another replica behind the same address within 2 s, losing nothing", async () => {
  await using redis = await RedisServer.start();
  const env = { REDIS_URL: redis.url, ...UNLIMITED };
  await using first = await ServerProcess.start({ env });
  await using second = await ServerProcess.start({ env });
  await using relay = TcpRelay.start(first.port);
  const backAfterMs = await survive(redis, relay.port, async () => {
    await first.stop("SIGKILL");
    relay.switchTo(second.port);
  });
  assert.ok(backAfterMs < 2_000, `chatting again ${backAfterMs} ms after the switch`);
  assert.match(second.logs, /name taken back/);
});
