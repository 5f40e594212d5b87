/**
 * The flood guard on a real server process (issue 5, item 5), with a rate of
 * 5 messages per second and a burst of 5: a burst over the limit is answered
 * message by message (`! slow down` in text, `slow_down` with the message's
 * ref in JSON), so every message is either delivered or refused and none is
 * dropped silently; a client that keeps sending is disconnected for
 * flooding; both are counted in the metrics.
 */

import assert from "node:assert/strict";
import { JsonClient, type JsonEvent, TextClient } from "../helpers/client.ts";
import { scrapeMetric } from "../helpers/metrics.ts";
import { poll } from "../helpers/poll.ts";
import { sleep } from "../../lib/util/deadline.ts";
import { ServerProcess } from "../helpers/server.ts";

const RATE = 5;
const BURST = 5;
const SLOW_DOWN = `! slow down: at most ${RATE} messages per second; it was not sent`;
const FLOODING = "! flooding: kept sending faster than the rate limit; disconnected";
const REJECTED = 'chat_messages_rejected_total{reason="rate_limited"}';
const FLOODERS = "chat_flooders_disconnected_total";
/**
 * Long enough for the bucket to refill after a burst of 8: a debt of at most
 * 3 tokens plus the one the next message needs, at 5 per second, is 0.8 s.
 */
const RECOVERY_MS = 1_200;

Deno.test("flood control", async (t) => {
  await using server = await ServerProcess.start({
    env: { RATE_LIMIT: String(RATE), RATE_BURST: String(BURST) },
  });
  const metric = (series: string) => scrapeMetric(server.httpPort, series);

  await t.step(
    "each message of a text burst over the limit is delivered or answered with slow down",
    async () => {
      const { client: watcher } = await TextClient.join(server.port, "watcher1");
      const { client: burster } = await TextClient.join(server.port, "burster");
      await watcher.readUntil("* burster joined");
      const rejectedBefore = await metric(REJECTED);

      const sent = Array.from({ length: 8 }, (_, i) => `b${i}`);
      await burster.write(sent.map((text) => `${text}\n`).join(""));
      // Nothing else comes back to a text sender, so every message is accounted
      // for once the refusals and the deliveries add up to what was sent.
      const delivered = () => watcher.seen.filter((line) => line.startsWith("[burster]: ")).length;
      const refused = () => burster.seen.filter((line) => line.startsWith("! "));
      await poll("every message delivered or refused", () => {
        return delivered() + refused().length === sent.length;
      });
      const passed = delivered();
      assert.ok(passed >= BURST, `${passed} passed`);
      assert.deepEqual(refused(), Array(sent.length - passed).fill(SLOW_DOWN));

      // Once the bucket has refilled, a message passes again. The others got
      // the burst in order, and nothing that was refused turns up late.
      await sleep(RECOVERY_MS);
      burster.send("after the burst");
      const live = await watcher.readUntil("[burster]: after the burst");
      assert.deepEqual(
        live.filter((line) => line.startsWith("[")),
        [...sent.slice(0, passed), "after the burst"].map((text) => `[burster]: ${text}`),
      );
      assert.equal(await metric(REJECTED) - rejectedBefore, sent.length - passed);
      await Promise.all([watcher.close(), burster.close()]);
    },
  );

  await t.step(
    "in JSON each message of a burst gets either its receipt or slow_down with its ref",
    async () => {
      const { client: watcher } = await JsonClient.join(server.port, "watcher2");
      const { client: burster } = await JsonClient.join(server.port, "jsonburster");
      await watcher.readUntil((event) => event.type === "join" && event.user === "jsonburster");

      const refs = Array.from({ length: 8 }, (_, i) => `burst-${i}`);
      await burster.lines.write(
        refs.map((ref) => `${JSON.stringify({ type: "message", text: ref, ref })}\n`).join(""),
      );
      const outcomes = new Map<string, JsonEvent>();
      while (outcomes.size < refs.length) {
        const event = (await burster.next())!;
        if (event.type === "join") continue; // the watcher's, announced late
        assert.ok(!outcomes.has(event.ref), `two answers for ${event.ref}`);
        outcomes.set(event.ref, event);
      }
      const receipted = refs.filter((ref) => outcomes.get(ref)!.type === "message");
      const refused = refs.filter((ref) => !receipted.includes(ref));
      assert.ok(receipted.length >= BURST, JSON.stringify([...outcomes.values()]));
      for (const ref of refused) {
        assert.deepEqual(outcomes.get(ref), {
          type: "error",
          code: "slow_down",
          text: SLOW_DOWN.slice(2),
          ref,
        });
      }
      // The others see exactly the receipted ones, and so does the history.
      const seen: string[] = [];
      while (seen.length < receipted.length) {
        const event = (await watcher.next())!;
        if (event.type === "message") seen.push(event.ref);
      }
      assert.deepEqual(seen, receipted);
      const { client: late, history } = await JsonClient.join(server.port, "late2");
      assert.deepEqual(
        history.filter((event) => event.user === "jsonburster").map((event) => event.ref),
        receipted,
      );
      await Promise.all([watcher.close(), burster.close(), late.close()]);
    },
  );

  for (const mode of ["text", "JSON"] as const) {
    await t.step(
      `a ${mode} client that keeps sending over the limit is disconnected for flooding`,
      async () => {
        const name = `flooder${mode}`;
        const flooder = mode === "text"
          ? (await TextClient.join(server.port, name)).client
          : (await JsonClient.join(server.port, name)).client.lines;
        const { client: watcher } = await TextClient.join(server.port, `watcher${mode}`);
        // From here on the flooder gets nothing but answers to what it sends.
        await flooder.readUntil((line) => line.includes(`watcher${mode}`));
        const [floodersBefore, rejectedBefore] = [await metric(FLOODERS), await metric(REJECTED)];

        // Ten times the rate, one message at a time, until the server has had enough.
        let sent = 0;
        while (!flooder.closedByServer && sent < 100) {
          const text = `flood ${sent}`;
          const line = mode === "text"
            ? text
            : JSON.stringify({ type: "message", text, ref: `f${sent}` });
          sent++;
          try {
            await flooder.send(line);
          } catch {
            break; // The server closed the connection mid-write.
          }
          await sleep(1000 / RATE / 10);
        }
        const answers = await flooder.readToEnd();
        const delivered = (await watcher.readUntil(`* ${name} left`))
          .filter((line) => line.startsWith("["));

        // The burst passed; then each message was refused until the debt ran
        // out, and the one after that was answered with the disconnect.
        assert.ok(delivered.length >= BURST, JSON.stringify(delivered));
        const passed = Array.from({ length: delivered.length }, (_, n) => `flood ${n}`);
        assert.deepEqual(delivered, passed.map((text) => `[${name}]: ${text}`));
        const refusals = answers.length - 1 - (mode === "text" ? 0 : passed.length);
        assert.ok(refusals >= BURST, JSON.stringify(answers));
        if (mode === "text") {
          assert.deepEqual(answers, [...Array(refusals).fill(SLOW_DOWN), FLOODING]);
        } else {
          const events = answers.map((line) => JSON.parse(line));
          const receipts = events.slice(0, passed.length);
          assert.deepEqual(
            receipts.map((event) => [event.type, event.text]),
            passed.map((text) => ["message", text]),
          );
          assert.deepEqual(
            events.slice(passed.length, -1),
            Array.from({ length: refusals }, (_, n) => ({
              type: "error",
              code: "slow_down",
              text: SLOW_DOWN.slice(2),
              ref: `f${passed.length + n}`,
            })),
          );
          assert.deepEqual(events.at(-1), {
            type: "error",
            code: "flooding",
            text: FLOODING.slice(2),
            fatal: true,
          });
        }
        // One answer or delivery per message sent, none twice.
        assert.ok(delivered.length + refusals + 1 <= sent);
        assert.equal(await metric(FLOODERS) - floodersBefore, 1);
        assert.equal(await metric(REJECTED) - rejectedBefore, refusals);
        await Promise.all([watcher.close(), flooder.close()]);
      },
    );
  }
});
