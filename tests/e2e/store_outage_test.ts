/**
 * Redis going away in the middle of traffic, with two real server processes
 * on the test's own redis-server (issue 5, item 7), seen through the JSON
 * protocol's receipts: every message sent is answered with its receipt or
 * with `not_sent` and its ref (with both only when Redis stored it as it
 * stopped and the reply was lost); connections stay up through the outage; after Redis returns messages flow again; every receipted message
 * is in the history; and what the others were shown is exactly the history.
 *
 * `replicas_test.ts` covers the same outage for a text-mode sender and a
 * client joining while Redis is down; this test adds continuous traffic and
 * the per-message accounting that refs make possible.
 */

import assert from "node:assert/strict";
import { JsonClient, type JsonEvent, TextClient } from "../helpers/client.ts";
import { scrapeMetric } from "../helpers/metrics.ts";
import { poll } from "../helpers/poll.ts";
import { sleep } from "../../lib/util/deadline.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

/** About 100 messages a second: traffic, not a load test (so no rate limit applies). */
const SEND_EVERY_MS = 10;
const NOT_SENT = "not sent: the chat store is unavailable; try again shortly";

Deno.test("when Redis stops mid-traffic each message gets its receipt or not_sent, connections stay, and afterwards the history holds every receipted message and exactly what others were shown", async () => {
  await using redis = await RedisServer.start();
  const env = { REDIS_URL: redis.url, RATE_LIMIT: "100000", RATE_BURST: "100000" };
  await using a = await ServerProcess.start({ env });
  await using b = await ServerProcess.start({ env });
  const { client: watcher } = await JsonClient.join(b.port, "watcher");
  const { client: textWatcher } = await TextClient.join(a.port, "textwatcher");
  const { client: sender } = await JsonClient.join(a.port, "sender");
  await watcher.readUntil((event) => event.type === "join" && event.user === "sender");
  await textWatcher.readUntil("* sender joined");

  // The sender's answers, by ref; anything else it gets (pongs) in order.
  const answers = new Map<string, JsonEvent[]>();
  const other: JsonEvent[] = [];
  const answering = (async () => {
    while (true) {
      const event = await sender.next(60_000);
      if (event === null) return;
      if (event.ref === undefined) other.push(event);
      else answers.set(event.ref, [...answers.get(event.ref) ?? [], event]);
    }
  })();
  let sent = 0;
  let sending = true;
  const traffic = (async () => {
    while (sending) {
      // Counted before it is written: refs from `sent` on are not written yet.
      const ref = `m${sent++}`;
      await sender.request({ type: "message", text: ref, ref });
      await sleep(SEND_EVERY_MS);
    }
  })();
  const index = (ref: string) => Number(ref.slice(1));
  const receiptOf = (ref: string) => answers.get(ref)?.find((event) => event.type === "message");
  const count = (from: number, receipted: boolean) =>
    [...answers.keys()].filter((ref) => index(ref) >= from && !!receiptOf(ref) === receipted)
      .length;

  await poll("receipts before the outage", () => count(0, true) >= 20);
  await redis.stop();
  // Sent from here until the restart begins, Redis is certainly down.
  const downFrom = sent;
  await poll("refusals during the outage", () => count(downFrom, false) >= 5);
  // The connections are still served.
  await sender.request({ type: "ping" });
  await watcher.request({ type: "ping" });
  const watched = await watcher.readUntil((event) => event.type === "pong");
  await poll("the sender's pong", () => other.some((event) => event.type === "pong"));
  const downUntil = sent;
  await redis.restart();
  await poll("receipts after the outage", () => count(downUntil, true) >= 20, {
    timeoutMs: 15_000,
  });
  sending = false;
  await traffic;
  await sender.request({ type: "message", text: "last", ref: "last" });
  const inOrder = [...Array(sent).keys()].map((n) => `m${n}`).concat("last");
  await poll("every message answered", () => inOrder.every((ref) => answers.has(ref)));

  const notSent = (ref: string) => ({ type: "error", code: "not_sent", text: NOT_SENT, ref });
  for (const ref of inOrder) {
    const [first, second, ...more] = answers.get(ref)!;
    assert.deepEqual(more, [], `${ref} answered more than twice`);
    if (second === undefined) {
      if (first.type !== "message") assert.deepEqual(first, notSent(ref));
      continue;
    }
    // Two answers are the one case the server cannot know better: Redis ran
    // the append as it stopped and the reply was lost, so the sender was
    // told not_sent, and the receipt came through the subscription. Only a
    // message sent before Redis was gone can be in that state.
    assert.ok(index(ref) < downFrom, `${ref} answered twice: ${JSON.stringify([first, second])}`);
    assert.deepEqual([first, second].map((event) => event.type).sort(), ["error", "message"]);
    assert.deepEqual([first, second].find((event) => event.type === "error"), notSent(ref));
  }
  const receipted = inOrder.filter(receiptOf);
  for (let n = downFrom; n < downUntil; n++) {
    assert.equal(receiptOf(`m${n}`), undefined, `m${n} was receipted while Redis was down`);
  }
  // One order: receipts come with increasing ids, in the order sent.
  const ids = receipted.map((ref) => receiptOf(ref)!.id);
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y));

  // Replica b reconnects to Redis on its own schedule; until then it turns a join away with
  // store_unavailable ("try again shortly"), and the reader tries again.
  const { client: reader, history } = await poll("a join on replica b", async () => {
    try {
      return await JsonClient.join(b.port, "reader");
    } catch (error) {
      if (String(error).includes("store_unavailable")) return null;
      throw error;
    }
  });
  const stored = history.filter((event) => event.user === "sender").map((event) => event.ref);
  // Every receipted message is in the history, in order, and nothing else.
  assert.deepEqual(stored, receipted);
  // What the others were shown, on both replicas and in both protocols, is
  // exactly the history: nothing unstored, nothing stored missed, one order.
  watched.push(...await watcher.readUntil((event) => event.ref === "last"));
  const shown = watched
    .filter((event) => event.type === "message")
    .map((event) => event.ref);
  assert.deepEqual(
    shown,
    stored,
    `replica B showed ${JSON.stringify(shown.filter((ref) => !stored.includes(ref)))} ` +
      `that are not stored and missed ${
        JSON.stringify(stored.filter((r) => !shown.includes(r)))
      }; ` +
      `its log:\n${b.logs}`,
  );
  const shownAsText = (await textWatcher.readUntil("[sender]: last"))
    .filter((line) => line.startsWith("[sender]: "));
  assert.deepEqual(shownAsText, stored.map((ref) => `[sender]: ${ref}`));

  const refused = inOrder.filter((ref) => answers.get(ref)!.some((e) => e.type === "error"));
  assert.equal(
    await scrapeMetric(a.httpPort, 'chat_messages_rejected_total{reason="store_unavailable"}'),
    refused.length,
  );
  for (const client of [sender.lines, watcher.lines, textWatcher]) {
    assert.equal(client.closedByServer, false);
  }
  await Promise.all([sender.close(), watcher.close(), textWatcher.close(), reader.close()]);
  await answering;
});
