/**
 * The chat server in process: when it starts listening, the port it bound,
 * the global and per-address connection limits, and the graceful shutdown.
 */

import assert from "node:assert/strict";
import { ChatServer } from "../../lib/server/chat_server.ts";
import { createLogger } from "../../lib/ops/log.ts";
import { ServerMetrics } from "../../lib/ops/chat_metrics.ts";
import { LocalPresence } from "../../lib/store/local_presence.ts";
import { RedisStore } from "../../lib/store/redis_store.ts";
import { SqliteAccounts } from "../../lib/store/sqlite_accounts.ts";
import { sleep } from "../../lib/util/deadline.ts";
import { InProcessServer, LineClient, TEST_CONFIG } from "../helpers/in_process_server.ts";
import { freePort, RedisServer } from "../helpers/redis.ts";
import { poll } from "../helpers/poll.ts";

Deno.test("the port opens only once the store answers and the history is primed", async () => {
  await using redis = await RedisServer.start({ appendOnly: false });
  const dataDir = await Deno.makeTempDir({ prefix: "chat-start-" });
  const logger = createLogger("error", () => {});
  const metrics = new ServerMetrics();
  const store = await RedisStore.connect({
    redis: { url: redis.url },
    historyKey: "start",
    historyLimit: 100,
    logger,
    commandTimeoutMs: 10_000,
  });
  const presence = new LocalPresence();
  const accounts = await SqliteAccounts.open({ dataDir });
  try {
    await store.append({ user: "ann", text: "stored before the start", ts: 1, origin: "t/1" });
    const port = await freePort();
    // Redis holds every command for 1.5 s: the subscription and the history read wait.
    await redis.command("CLIENT", "PAUSE", "1500", "ALL");
    const starting = ChatServer.start({ ...TEST_CONFIG, port }, {
      store,
      presence,
      accounts,
      logger,
      metrics,
    });
    await sleep(300);
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port }),
      Deno.errors.ConnectionRefused,
      "refused while starting, not left waiting in the backlog",
    );
    const server = await starting;
    try {
      await using bob = new LineClient(await Deno.connect({ hostname: "127.0.0.1", port }));
      await bob.send("bob");
      const history = await bob.readUntil((line) => line === "HISTORY_END");
      assert.ok(history.some((line) => line.includes("stored before the start")));
    } finally {
      await server.shutdown();
    }
  } finally {
    await Promise.all([store.close(), presence.close(), accounts.close()]);
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("started on port 0, the server reports the port it bound and accepts there", async () => {
  await using server = await InProcessServer.start({ port: 0 });
  assert.ok(server.port > 0);
  await using _ann = (await server.joinText("ann")).client;
  assert.equal(server.metrics.connectionsAccepted.value, 1);
  assert.ok(
    server.logs.some((line) =>
      line.includes(`chat server listening on`) && line.includes(`port=${server.port}`)
    ),
  );
});

Deno.test("past the connection limit a client is told the server is full, counted as server_full", async () => {
  await using server = await InProcessServer.start({ maxConnections: 1 });
  await using _ann = (await server.joinText("ann")).client;
  await using late = await server.connect();
  assert.deepEqual(await late.readToEnd(), ["! server full; try again later"]);
  assert.equal(server.metrics.refused.server_full.value, 1);
  assert.equal(server.metrics.connectionsAccepted.value, 1);
  assert.ok(
    server.logs.some((line) =>
      /WARN {2}refused remote=127\.0\.0\.1:\d+ code=server_full/.test(line)
    ),
  );
});

Deno.test("past the per-address limit a client is refused and counted as per_ip", async () => {
  await using server = await InProcessServer.start({ maxConnectionsPerIp: 1 });
  await using _ann = (await server.joinText("ann")).client;
  await using second = await server.connect();
  assert.deepEqual(await second.readToEnd(), [
    "! too many connections from your address; try again later",
  ]);
  assert.equal(server.metrics.refused.per_ip.value, 1);
});

Deno.test("a shutdown tells every client in its dialect, closes them, and finishes", async () => {
  await using server = await InProcessServer.start();
  await using ann = (await server.joinText("ann")).client;
  await using bob = (await server.joinJson("bob")).client;
  await using quiet = await server.connect();
  await ann.readUntil((line) => line === "* bob joined");

  await server.server.shutdown();
  assert.deepEqual(await ann.readToEnd(), ["* server shutting down"]);
  const last = JSON.parse((await bob.readToEnd()).at(-1)!);
  assert.equal(last.code, "shutdown");
  assert.deepEqual(await quiet.readToEnd(), ["* server shutting down"], "even mid-handshake");
  assert.equal(server.server.stopping, true);
  assert.equal(server.metrics.slowConsumersDisconnected.value, 0);
  await server.server.finished;
});

Deno.test("sessions coming and going lead to one collection once quiet, and none while messages flow", async () => {
  const collections: number[] = [];
  const quietMs = 300;
  await using chat = await InProcessServer.start({}, {
    reclaim: {
      collect: () => collections.push(performance.now()),
      // Every burst is worth collecting: what is tested here is when.
      heapUsed: () => 0,
      minGrowthBytes: 0,
      quietMs,
    },
  });
  await using alice = (await chat.joinText("alice")).client;
  await poll("the collection after alice joined", () => collections.length === 1);

  // Bob's join would be followed by a collection, but for the messages that keep coming.
  await using bob = (await chat.joinText("bob")).client;
  const flowStarted = performance.now();
  for (let i = 0; i < 30; i++) {
    await bob.send(`message ${i}`);
    await sleep(quietMs / 10);
  }
  const flowEnded = performance.now();
  await poll("the collection once the messages stopped", () => collections.length === 2);
  assert.ok(collections[1] - flowEnded >= 0, "not while messages flowed");
  assert.ok(flowEnded - flowStarted > quietMs, "the messages outlasted the quiet wait");
  await alice.readUntil((line) => line === "[bob]: message 29");
});
