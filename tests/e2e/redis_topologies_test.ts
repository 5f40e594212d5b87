/**
 * Two real server processes on Redis Sentinel and on Redis Cluster, with a
 * JSON client sending throughout while the test kills the master (Sentinel)
 * or restarts the node holding the history (Cluster). Afterwards: every
 * receipted message is in the history; no replica showed a message twice;
 * both replicas showed the stored messages in the history's order; and the
 * connections stayed up. Also: the id counter's move to `{K}:seq` when
 * several replicas start together.
 */

import assert from "node:assert/strict";
import { JsonClient, type JsonEvent } from "../helpers/client.ts";
import { scrapeMetric } from "../helpers/metrics.ts";
import { poll } from "../helpers/poll.ts";
import { sleep } from "../../lib/util/deadline.ts";
import { RedisServer } from "../helpers/redis.ts";
import { RedisClusterSet, SentinelSet } from "../helpers/redis_topologies.ts";
import { ServerProcess } from "../helpers/server.ts";

const UNLIMITED = { RATE_LIMIT: "100000", RATE_BURST: "100000" };

/**
 * Sends numbered messages to server `a` until `disrupt` has run and 10 more
 * were receipted, while watchers on `a` and `b` record what they are shown;
 * then checks the properties in the module doc.
 */
async function chatThrough(
  a: ServerProcess,
  b: ServerProcess,
  disrupt: () => Promise<void>,
): Promise<void> {
  const { client: watchA } = await JsonClient.join(a.port, "watcha");
  const { client: watchB } = await JsonClient.join(b.port, "watchb");
  const { client: sender } = await JsonClient.join(a.port, "sender");
  const answers = new Map<string, JsonEvent[]>();
  const answering = (async () => {
    while (true) {
      const event = await sender.next(120_000);
      if (event === null) return;
      if (event.ref !== undefined) answers.set(event.ref, [...answers.get(event.ref) ?? [], event]);
    }
  })();
  const receipted = (ref: string) => answers.get(ref)?.some((event) => event.type === "message");
  let sent = 0;
  let sending = true;
  const traffic = (async () => {
    while (sending) {
      const ref = `m${sent++}`;
      await sender.request({ type: "message", text: ref, ref });
      await sleep(20);
    }
  })();
  await poll("receipts before the disruption", () => answers.size >= 20);
  await disrupt();
  const after = sent;
  await poll(
    "10 receipts after the disruption",
    () =>
      [...answers.keys()].filter((ref) => Number(ref.slice(1)) >= after && receipted(ref))
        .length >= 10,
    { timeoutMs: 40_000 },
  );
  sending = false;
  await traffic;
  // While the replicas resync after the disruption, a message may be refused
  // (`not_sent`: no replica took it in time); like a client, send it again.
  let last = "";
  const answered = (ref: string) => answers.has(ref) || undefined;
  for (let attempt = 1; !receipted(last); attempt++) {
    if (attempt > 5) {
      throw new Error(`no last message receipted: ${JSON.stringify(answers.get(last))}`);
    }
    last = `last${attempt}`;
    await sender.request({ type: "message", text: last, ref: last });
    await poll(`an answer to ${last}`, () => answered(last), { timeoutMs: 15_000 });
  }

  const { client: reader, history } = await JsonClient.join(b.port, "reader");
  const stored = history.filter((event) => event.user === "sender").map((event) => event.ref);
  assert.equal(new Set(stored).size, stored.length, "a message is stored twice");
  const lost = [...answers.keys()].filter((ref) => receipted(ref) && !stored.includes(ref));
  assert.deepEqual(lost, [], "receipted messages missing from the history");
  for (const watcher of [watchA, watchB]) {
    const shown = (await watcher.readUntil((event) => event.ref === last, 20_000))
      .filter((event) => event.type === "message" && event.user === "sender")
      .map((event) => event.ref);
    assert.equal(new Set(shown).size, shown.length, `shown twice: ${shown}`);
    const storedShown = shown.filter((ref) => stored.includes(ref));
    assert.deepEqual(storedShown, stored.filter((ref) => storedShown.includes(ref)));
    assert.equal(watcher.lines.closedByServer, false);
  }
  assert.equal(sender.lines.closedByServer, false);
  await Promise.all([sender.close(), watchA.close(), watchB.close(), reader.close()]);
  await answering;
}

Deno.test("on Sentinel, killing the master mid-traffic: servers follow the promoted replica, nothing receipted is lost, nothing shown twice, one order", async () => {
  await using redis = await SentinelSet.start();
  const env = { REDIS_SENTINELS: redis.env, REDIS_MIN_REPLICAS_ACK: "1", ...UNLIMITED };
  await using a = await ServerProcess.start({ env });
  await using b = await ServerProcess.start({ env });
  await chatThrough(a, b, async () => {
    await redis.master.stop("SIGKILL");
    await poll("a new master", async () => await redis.masterPort() === redis.replica.port, {
      timeoutMs: 20_000,
    });
    // Back as a replica of the new master, so that appends are acknowledged again.
    await redis.master.restart();
  });
  assert.ok(await scrapeMetric(a.httpPort, "chat_store_failovers_total") >= 1);
  const ready = await fetch(`http://127.0.0.1:${b.httpPort}/readyz`);
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
});

Deno.test("on a three-master Cluster, restarting the history's node mid-traffic: nothing receipted is lost, nothing shown twice, one order", async () => {
  await using cluster = await RedisClusterSet.start();
  const env = { REDIS_CLUSTER_NODES: cluster.env, ...UNLIMITED };
  await using a = await ServerProcess.start({ env });
  await using b = await ServerProcess.start({ env });
  const home = await cluster.nodeOf("chat_history");
  assert.equal(await cluster.nodeOf("{chat_history}:seq"), home);
  await chatThrough(a, b, async () => {
    await home.restart();
    await cluster.waitUntilOk();
  });
  // The counter and the list share the node; the old-style key is absent.
  assert.ok(Number(await home.command("GET", "{chat_history}:seq")) > 20);
  const oldHome = await cluster.nodeOf("chat_history:seq");
  assert.equal(await oldHome.command("EXISTS", "chat_history:seq"), 0);
});

Deno.test("two servers starting together move an old `chat_history:seq` to `{chat_history}:seq` once, and ids continue", async () => {
  await using redis = await RedisServer.start();
  const old = { id: 41, user: "old", text: "before the move", ts: 1 };
  await redis.command("RPUSH", "chat_history", JSON.stringify(old));
  await redis.command("SET", "chat_history:seq", "41");
  const env = { REDIS_URL: redis.url, ...UNLIMITED };
  const [a, b] = await Promise.all([ServerProcess.start({ env }), ServerProcess.start({ env })]);
  await using _a = a;
  await using _b = b;
  assert.equal(await redis.command("EXISTS", "chat_history:seq"), 0);
  assert.equal(await redis.command("GET", "{chat_history}:seq"), "41");
  const moves = [a, b].filter((s) => s.logs.includes("moved the id counter")).length;
  assert.ok(moves <= 1, "the counter was moved twice");
  const { client } = await JsonClient.join(b.port, "ann");
  await client.request({ type: "message", text: "after", ref: "r" });
  const [receipt] = await client.readUntil((event) => event.ref === "r");
  assert.equal(receipt.id, 42);
  await client.close();
});
