/**
 * Several server processes on one real redis-server behave as one room: one
 * order everywhere, gapless joins while traffic flows, nothing shown unless
 * stored, and recovery when Redis goes away and comes back.
 */

import assert from "node:assert/strict";
import { TextClient } from "../helpers/client.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";
import { poll } from "../helpers/poll.ts";
import { EXPIRED, within } from "../../lib/util/deadline.ts";
import { sleep } from "../../lib/util/deadline.ts";

/** These tests are about order and gaps under load, not about the rate limit. */
const UNLIMITED = { RATE_LIMIT: "100000", RATE_BURST: "100000" };

const isMessage = (line: string) => line.startsWith("[");

/** Reads until `count` message lines (notices skipped) have arrived. */
async function readMessages(client: TextClient, count: number): Promise<string[]> {
  const messages: string[] = [];
  while (messages.length < count) {
    const line = await client.nextMessage(20_000);
    messages.push(line);
  }
  return messages;
}

/** The whole history as a fresh client on `port` sees it. */
async function history(port: number): Promise<string[]> {
  const { client, history } = await TextClient.join(port, `h${crypto.randomUUID().slice(0, 6)}`);
  await client.close();
  return history;
}

Deno.test("every receiver on every replica sees the same messages in the same order", async () => {
  await using redis = await RedisServer.start();
  const env = { REDIS_URL: redis.url, ...UNLIMITED };
  await using a = await ServerProcess.start({ env });
  await using b = await ServerProcess.start({ env });
  await using c = await ServerProcess.start({ env });
  const replicas = [a, b, c];

  const receivers = await Promise.all(
    replicas.map(async (server, i) => (await TextClient.join(server.port, `recv${i}`)).client),
  );
  const senders = await Promise.all(
    Array.from(
      { length: 6 },
      async (_, i) => (await TextClient.join(replicas[i % 3].port, `send${i}`)).client,
    ),
  );
  const perSender = 50;
  await Promise.all(senders.map(async (sender, i) => {
    for (let n = 0; n < perSender; n++) sender.send(`s${i}-${n}`);
    await sender.sync();
  }));

  const seen = await Promise.all(receivers.map((r) => readMessages(r, 6 * perSender)));
  for (const other of seen.slice(1)) assert.deepEqual(other, seen[0]);
  assert.deepEqual(await history(a.port), seen[0]);
  // Each sender's own messages keep the order it sent them in.
  for (let i = 0; i < 6; i++) {
    const mine = seen[0].filter((line) => line.startsWith(`[send${i}]: `));
    assert.deepEqual(mine, Array.from({ length: perSender }, (_, n) => `[send${i}]: s${i}-${n}`));
  }
  await Promise.all([...receivers, ...senders].map((client) => client.close()));
});

Deno.test("clients joining while messages flow get each message exactly once, history then live", async () => {
  await using redis = await RedisServer.start();
  const env = { REDIS_URL: redis.url, ...UNLIMITED };
  await using a = await ServerProcess.start({ env });
  await using b = await ServerProcess.start({ env });

  const { client: sender } = await TextClient.join(a.port, "sender");
  const total = 600;
  const joins: Promise<{ client: TextClient; history: string[] }>[] = [];
  for (let n = 0; n < total; n++) {
    sender.send(`m${n}`);
    if (n % 150 === 75) {
      // Mid-stream for sure: some messages are stored, most are still to come.
      await poll(
        "a message stored",
        async () => Number(await redis.command("LLEN", "chat_history")) > 0,
      );
      joins.push(TextClient.join(b.port, `joiner${n}`));
    }
  }
  await sender.sync();
  const all = Array.from({ length: total }, (_, n) => `[sender]: m${n}`);
  const split: number[] = [];
  for (const { client, history } of await Promise.all(joins)) {
    const inHistory = history.filter(isMessage);
    split.push(inHistory.length);
    const live = await readMessages(client, total - inHistory.length);
    assert.deepEqual([...inHistory, ...live], all);
    await client.close();
  }
  // The joins really did land mid-stream, not before or after it.
  assert.ok(split.some((n) => n > 0 && n < total), `history sizes ${split}`);
  await sender.close();
});

Deno.test("while Redis is down a sender is told its message was not sent; after it returns, chat resumes and nothing acknowledged is lost", async () => {
  await using redis = await RedisServer.start();
  const env = { REDIS_URL: redis.url, ...UNLIMITED };
  await using a = await ServerProcess.start({ env });
  await using b = await ServerProcess.start({ env });
  const { client: ann } = await TextClient.join(a.port, "ann");
  const { client: bob } = await TextClient.join(b.port, "bob");

  ann.send("before");
  assert.equal(await bob.nextMessage(), "[ann]: before");

  await redis.stop();
  ann.send("during");
  assert.match(await ann.nextMessage(), /^! not sent: /);
  const turnedAway = await TextClient.connect(a.port);
  turnedAway.send("carl");
  assert.deepEqual(await turnedAway.readToEnd(), [
    "! the chat store is unavailable; try again shortly",
  ]);
  await turnedAway.close();

  await redis.restart();
  // Resend until the store takes it, as a user would; the first success must
  // reach bob through the re-established subscription.
  const refusals = () => ann.seen.filter((line) => line.startsWith("! not sent")).length;
  let delivered = "";
  for (let attempt = 0; attempt < 100 && !delivered; attempt++) {
    const before = refusals();
    ann.send(`after ${attempt}`);
    await ann.sync();
    if (refusals() > before) {
      await sleep(100);
    } else {
      delivered = `[ann]: after ${attempt}`;
    }
  }
  assert.ok(delivered, "no message was accepted after Redis came back");
  assert.equal(await bob.nextMessage(), delivered);

  // AOF kept what was acknowledged before the outage; the refused one is absent. b's command
  // connection may come back after its subscription did: a join is refused until then.
  const lines = await poll("a join to b that gets the history", async () => {
    try {
      return await history(b.port);
    } catch {
      return undefined;
    }
  });
  assert.deepEqual(lines.filter((line) => line.startsWith("[ann]")), ["[ann]: before", delivered]);
  assert.match(a.logs, /message not stored remote=\S+ user=ann /);
  await Promise.all([ann.close(), bob.close()]);
});

Deno.test("history survives a restart of Redis with AOF on", async () => {
  await using redis = await RedisServer.start();
  await using server = await ServerProcess.start({ env: { REDIS_URL: redis.url } });
  const { client: ann } = await TextClient.join(server.port, "ann");
  ann.send("durable");
  await ann.sync();
  await ann.close();
  await redis.restart();
  assert.deepEqual(await redis.command("LLEN", "chat_history"), 1);
  let lines: string[] = [];
  for (let attempt = 0; attempt < 50 && !lines.includes("[ann]: durable"); attempt++) {
    lines = await history(server.port).catch(() => []);
    if (!lines.includes("[ann]: durable")) await sleep(100);
  }
  assert.deepEqual(lines, ["[ann]: durable"]);
});

Deno.test("two replicas started with `deno task server` and the old deployment's variables form one room", async () => {
  await using redis = await RedisServer.start();
  const env = {
    REDIS_HOST: "127.0.0.1",
    REDIS_PORT: String(redis.port),
    REDIS_URL: redis.url,
    HTTP_PORT: "0",
  };
  await using a = await ServerProcess.start({ env, viaTask: true });
  await using b = await ServerProcess.start({ env, viaTask: true });
  assert.match(a.logs, new RegExp(`store: Redis at redis://127\\.0\\.0\\.1:${redis.port}`));
  const { client: ann } = await TextClient.join(a.port, "ann");
  const { client: bob } = await TextClient.join(b.port, "bob");
  await ann.readUntil("* bob joined");
  ann.send("across replicas");
  assert.equal(await bob.nextMessage(), "[ann]: across replicas");
  bob.send("back");
  assert.equal(await ann.nextMessage(), "[bob]: back");
  await Promise.all([ann.close(), bob.close()]);
  assert.equal((await a.stop()).code, 0);
  assert.equal((await b.stop()).code, 0);
});

Deno.test("a server started while Redis is down waits, saying so, and serves once Redis is up", async () => {
  await using redis = await RedisServer.start();
  await redis.stop();
  // Something on Redis's port that hangs up on every connection, so that the
  // test knows the server has tried (and failed) before Redis comes back,
  // however slowly the server starts.
  const impostor = Deno.listen({ hostname: redis.host, port: redis.port });
  const starting = ServerProcess.start({ env: { REDIS_URL: redis.url } });
  try {
    const attempt = await within(impostor.accept(), 30_000);
    if (attempt === EXPIRED) throw new Error("the server never tried to reach Redis");
    attempt.close();
  } finally {
    impostor.close();
  }
  await redis.restart();
  await using server = await starting;
  assert.match(
    server.logs,
    /Redis connection failed; retrying role=command url=redis:\/\/127\.0\.0\.1:\d+ reason=.+ retryMs=\d+/,
  );
  assert.doesNotMatch(server.logs, /SQLite/);
  const { client, history } = await TextClient.join(server.port, "ann");
  assert.deepEqual(history, []);
  await client.close();
});
