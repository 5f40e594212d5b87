/**
 * Coming back after a lost connection, against a real server process on each
 * store: the resume token in `history_end` takes the name back at once (a
 * wrong or used one is refused exactly like a taken name), and the history's
 * epoch decides between resuming after `since` and being told plainly that
 * the history was reset, with a fresh replay. The history is lost for real:
 * `FLUSHALL` on Redis, the database file deleted for the embedded store.
 */

import assert from "node:assert/strict";
import { JsonClient, type JsonEvent } from "../helpers/client.ts";
import { ClientProcess } from "../helpers/client_process.ts";
import { scrapeMetric } from "../helpers/metrics.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

/** Sends `text` and returns its receipt. */
async function say(client: JsonClient, text: string): Promise<JsonEvent> {
  await client.request({ type: "message", text });
  return (await client.readUntil((event) => event.type === "message" && event.text === text))
    .at(-1)!;
}

/** The fields of a hello that resumes where `end` (a `history_end`) and `last` left off. */
function resumeFrom(user: string, end: JsonEvent, last = end.id): JsonEvent {
  return { user, since: last, epoch: end.epoch, token: end.token };
}

for (const mode of ["embedded", "Redis"] as const) {
  Deno.test(`resuming with the ${mode} store`, async (t) => {
    await using redis = mode === "Redis" ? await RedisServer.start() : null;
    const env: Record<string, string> = redis ? { REDIS_URL: redis.url } : {};
    let server = await ServerProcess.start({ env });
    const { port, dataDir } = server;
    const metric = (outcome: string) =>
      scrapeMetric(server.httpPort, `chat_resumes_total{outcome="${outcome}"}`);

    try {
      await t.step(
        "history_end carries the epoch and a new resume token at each join",
        async () => {
          const first = await JsonClient.hello(port, { user: "tia" });
          const end = first.events.at(-1)!;
          assert.equal(end.type, "history_end");
          assert.match(end.epoch, /^[A-Za-z0-9_-]{22}$/);
          assert.match(end.token, /^[A-Za-z0-9_-]{32}$/);
          const again = await JsonClient.hello(port, { user: "tia", token: end.token });
          const next = again.events.at(-1)!;
          assert.equal(next.epoch, end.epoch);
          assert.notEqual(next.token, end.token);
          await Promise.all([first.client.close(), again.client.close()]);
        },
      );

      await t.step(
        "a token takes the name back at once, from a connection still open; a wrong or used one is name_taken",
        async () => {
          const first = await JsonClient.hello(port, { user: "Uma" });
          const { token } = first.events.at(-1)!;
          const plain = await JsonClient.hello(port, { user: "uma" });
          const wrong = await JsonClient.hello(port, { user: "uma", token: "x".repeat(32) });
          for (const refused of [plain, wrong]) {
            const error = refused.events.at(-1)!;
            assert.equal(error.code, "name_taken");
            assert.equal(error.text, plain.events.at(-1)!.text, "a wrong token tells nothing");
            await refused.client.close();
          }
          const back = await JsonClient.hello(port, { user: "UMA", token });
          assert.equal(back.events.at(-1)!.type, "history_end");
          const last = (await first.client.readToEnd()).at(-1)!;
          assert.equal(last.code, "name_taken", "the old connection is told and closed");
          assert.equal(last.fatal, true);
          const reused = await JsonClient.hello(port, { user: "uma", token });
          assert.equal(reused.events.at(-1)!.code, "name_taken", "a token works once");
          // tia's name (the step before) was taken back from an open connection too.
          assert.equal(await metric("name_taken_back"), 2);
          await Promise.all([first.client.close(), back.client.close(), reused.client.close()]);
        },
      );

      await t.step("a resume in the same epoch gets exactly what it missed", async () => {
        const first = await JsonClient.hello(port, { user: "vic" });
        const end = first.events.at(-1)!;
        const receipt = await say(first.client, "v1");
        await first.client.close();
        const back = await JsonClient.hello(port, resumeFrom("vic", end));
        assert.deepEqual(back.events.map((event) => event.type), ["message", "history_end"]);
        assert.equal(back.events[0].id, receipt.id);
        assert.equal(back.events.at(-1)!.epoch, end.epoch);
        assert.equal(await metric("resumed"), 1);
        await back.client.close();
      });

      await t.step(
        "a resume naming another epoch, or ids this history never had, is told history_reset and replayed afresh",
        async () => {
          for (const [user, since, epoch] of [["wes", 1, "another-epoch"], ["wim", 1e9, ""]]) {
            const first = await JsonClient.hello(port, { user });
            const end = first.events.at(-1)!;
            await first.client.close();
            const back = await JsonClient.hello(port, {
              ...resumeFrom(user as string, end, since as number),
              ...epoch ? { epoch } : {},
            });
            const [notice, ...rest] = back.events;
            assert.deepEqual(notice, {
              type: "notice",
              code: "history_reset",
              text: "the chat history was reset since you were last here; showing it afresh",
            });
            assert.ok(rest.some((event) => event.text === "v1"), "the history from the start");
            assert.equal(rest.at(-1)!.epoch, end.epoch);
            await back.client.close();
          }
          assert.equal(await metric("reset_by_epoch"), 2);
        },
      );

      await t.step(
        "a history lost between a disconnect and the resume is told plainly, then replayed afresh",
        async () => {
          const first = await JsonClient.hello(port, { user: "xia" });
          const receipt = await say(first.client, "before the loss");
          const end = first.events.at(-1)!;
          await first.client.close();
          if (redis) {
            await redis.command("FLUSHALL");
          } else {
            await server.stop();
            for await (const file of Deno.readDir(dataDir)) {
              await Deno.remove(`${dataDir}/${file.name}`);
            }
            server = await ServerProcess.start({ env, port, dataDir });
          }
          const other = await JsonClient.join(port, "yan");
          await say(other.client, "after the loss");
          const back = await JsonClient.hello(port, resumeFrom("xia", end, receipt.id));
          assert.equal(back.events[0].code, "history_reset");
          assert.deepEqual(
            back.events.filter((event) => event.type === "message").map((event) => event.text),
            ["after the loss"],
          );
          assert.notEqual(back.events.at(-1)!.epoch, end.epoch, "a new epoch");
          await Promise.all([other.client.close(), back.client.close()]);
        },
      );
    } finally {
      await server.stop();
      await Deno.remove(dataDir, { recursive: true });
    }
  });
}

Deno.test("the client tells its user that the history was reset, and shows it afresh", async () => {
  await using redis = await RedisServer.start();
  const env = { REDIS_URL: redis.url };
  let server = await ServerProcess.start({ env });
  const { port } = server;
  try {
    await using client = await ClientProcess.start(["127.0.0.1", String(port), "zoe"]);
    await client.until((_, err) => err.includes("connected to"), "the client to join");
    await client.write("before\n");
    await client.until((out) => out.includes("zoe: before"), "the receipt");
    // Stopped for good, its data directory with it: the next server starts afresh.
    await server[Symbol.asyncDispose]();
    await client.until((_, err) => err.includes("reconnecting"), "the drop");
    await redis.command("FLUSHALL");
    server = await ServerProcess.start({ env, port });
    const { client: other } = await JsonClient.join(port, "ann");
    await say(other, "after");
    await other.close();
    await client.until((_, err) => err.includes("reconnected"), "the client to come back");
    assert.match(client.stderr, /history was reset/);
    assert.match(client.stdout, /ann: after/);
    await client.closeStdin();
    assert.equal((await client.exit()).code, 0, client.stderr);
  } finally {
    await server[Symbol.asyncDispose]();
  }
});
