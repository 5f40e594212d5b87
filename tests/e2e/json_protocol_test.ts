/**
 * The JSON protocol: the parser on its own (every field comes from the
 * network), then end to end against a real server process on each store:
 * receipts, resuming with `since`, typed errors, and text clients alongside.
 */

import assert from "node:assert/strict";
import { JsonClient, TextClient } from "../helpers/client.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";
import { eventJson, parseHello, parseJsonRequest } from "../../lib/protocol/json_dialect.ts";

Deno.test("a hello names the user and may carry a since id", () => {
  assert.deepEqual(parseHello('{"type":"hello","user":"ann"}'), { user: "ann" });
  assert.deepEqual(parseHello('{"type":"hello","user":"ann","since":7}'), {
    user: "ann",
    since: 7,
  });
});

Deno.test("a hello may carry the history's epoch and a resume token", () => {
  assert.deepEqual(
    parseHello('{"type":"hello","user":"ann","since":7,"epoch":"Ep-1_x","token":"tok_EN-9"}'),
    { user: "ann", since: 7, epoch: "Ep-1_x", token: "tok_EN-9" },
  );
});

Deno.test("a malformed hello is a fatal bad_hello error saying what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["{", /not valid JSON/],
    ["[1]", /expected a JSON object/],
    ['{"type":"hi","user":"ann"}', /"type":"hello"/],
    ['{"type":"hello","user":5}', /"user"/],
    ['{"type":"hello","user":"ann","since":-1}', /"since"/],
    ['{"type":"hello","user":"ann","since":1.5}', /"since"/],
    ['{"type":"hello","user":"ann","since":"3"}', /"since"/],
    ['{"type":"hello","user":"ann","token":5}', /"token"/],
    ['{"type":"hello","user":"ann","token":"has space"}', /"token"/],
    [`{"type":"hello","user":"ann","token":"${"t".repeat(129)}"}`, /"token"/],
    ['{"type":"hello","user":"ann","epoch":""}', /"epoch"/],
  ];
  for (const [line, reason] of cases) {
    const result = parseHello(line);
    assert.ok("code" in result, line);
    assert.equal(result.code, "bad_hello");
    assert.equal(result.fatal, true);
    assert.match(result.text, reason, line);
  }
});

Deno.test("requests are parsed strictly and message text is sanitised", () => {
  assert.deepEqual(parseJsonRequest('{"type":"message","text":" hi\\u001b[2J ","ref":"c1"}'), {
    type: "message",
    text: "hi[2J",
    ref: "c1",
  });
  assert.deepEqual(parseJsonRequest('{"type":"message","text":"   ","ref":"e1"}'), {
    type: "invalid",
    error: { code: "bad_request", text: "empty message; it was not sent", ref: "e1" },
  });
  assert.deepEqual(parseJsonRequest('{"type":"who"}'), { type: "who" });
  assert.deepEqual(parseJsonRequest('{"type":"ping"}'), { type: "ping" });
  assert.deepEqual(parseJsonRequest('{"type":"quit"}'), { type: "quit" });
  for (
    const line of [
      "nonsense",
      "null",
      '"text"',
      '{"type":"message"}',
      '{"type":"message","text":1}',
      '{"type":"message","text":"x","ref":"has space"}',
      `{"type":"message","text":"x","ref":"${"r".repeat(65)}"}`,
      '{"type":"shout"}',
      '{"type":"help"}',
    ]
  ) {
    const request = parseJsonRequest(line);
    assert.equal(request?.type, "invalid", line);
    assert.equal(request.type === "invalid" && request.error.code, "bad_request", line);
  }
});

Deno.test("an event's JSON carries id, user, text, ts and ref but never the origin", () => {
  const message = JSON.parse(eventJson({
    type: "message",
    id: 3,
    user: "ann",
    text: "hi",
    ts: 10,
    ref: "r",
    origin: "replica/1",
  }));
  assert.deepEqual(message, { type: "message", id: 3, user: "ann", text: "hi", ts: 10, ref: "r" });
  const join = JSON.parse(eventJson({ type: "join", user: "ann", ts: 11, origin: "replica/1" }));
  assert.deepEqual(join, { type: "join", user: "ann", ts: 11 });
});

for (const mode of ["embedded", "Redis"] as const) {
  Deno.test(`JSON protocol with the ${mode} store`, async (t) => {
    await using redis = mode === "Redis" ? await RedisServer.start() : null;
    const env: Record<string, string> = redis ? { REDIS_URL: redis.url } : {};
    await using server = await ServerProcess.start({ env });

    await t.step("the sender gets its message back with its id and ref as a receipt", async () => {
      const { client: ann, lastId } = await JsonClient.join(server.port, "ann");
      const { client: bob } = await JsonClient.join(server.port, "bob");
      const { client: cat } = await TextClient.join(server.port, "cat");
      await ann.readUntil((event) => event.type === "join" && event.user === "cat");
      await ann.request({ type: "message", text: "hello", ref: "m-1" });
      const [receipt] = await ann.readUntil((event) => event.type === "message");
      assert.equal(receipt.user, "ann");
      assert.equal(receipt.text, "hello");
      assert.equal(receipt.ref, "m-1");
      assert.ok(receipt.id > lastId, `id ${receipt.id} is newer than the history's ${lastId}`);
      assert.ok(Math.abs(receipt.ts - Date.now()) < 60_000);
      const seen = (await bob.readUntil((event) => event.type === "message")).at(-1)!;
      assert.deepEqual(seen, receipt);
      assert.equal(await cat.nextMessage(), "[ann]: hello");
      await Promise.all([ann.close(), bob.close(), cat.close()]);
    });

    await t.step("a hello with since gets exactly the messages after that id", async () => {
      const { client: ann } = await JsonClient.join(server.port, "ann2");
      const ids: number[] = [];
      for (const text of ["one", "two", "three"]) {
        await ann.request({ type: "message", text });
        ids.push((await ann.readUntil((event) => event.type === "message")).at(-1)!.id);
      }
      const { client: back, history, lastId } = await JsonClient.join(
        server.port,
        "back",
        ids[0],
      );
      assert.deepEqual(history.map((event) => event.text), ["two", "three"]);
      assert.deepEqual(history.map((event) => event.id), ids.slice(1));
      assert.equal(lastId, ids[2]);
      await ann.request({ type: "message", text: "four" });
      const live = (await back.readUntil((event) => event.type === "message")).at(-1)!;
      assert.equal(live.text, "four");
      assert.equal(live.id, ids[2] + 1);
      const { history: none } = await JsonClient.join(server.port, "late", live.id);
      assert.deepEqual(none, []);
      await Promise.all([ann.close(), back.close()]);
    });

    await t.step("a bad request gets a typed error and the connection stays usable", async () => {
      const { client: ann } = await JsonClient.join(server.port, "ann3");
      await ann.lines.send("not json");
      assert.deepEqual(await ann.next(), {
        type: "error",
        code: "bad_request",
        text: "not valid JSON",
      });
      await ann.request({ type: "message", text: "x", ref: "bad ref" });
      assert.equal((await ann.next())?.code, "bad_request");
      await ann.lines.send(JSON.stringify({ type: "message", text: "y".repeat(5000) }));
      const tooLong = await ann.next();
      assert.equal(tooLong?.code, "line_too_long");
      assert.equal(tooLong?.fatal, undefined);
      await ann.request({ type: "ping" });
      assert.deepEqual(await ann.next(), { type: "pong" });
      await ann.close();
    });

    await t.step(
      "a bad hello or name is a fatal typed error and the connection closes",
      async () => {
        for (
          const [line, code] of [
            ['{"type":"hi"}', "bad_hello"],
            ['{"type":"hello","user":"has space"}', "invalid_name"],
            ['{"type":"hello","user":"{x"}', "invalid_name"],
          ]
        ) {
          const client = await TextClient.connect(server.port);
          await client.send(line);
          const events = (await client.readToEnd()).map((text) => JSON.parse(text));
          assert.equal(events.length, 1, JSON.stringify(events));
          assert.equal(events[0].type, "error");
          assert.equal(events[0].code, code);
          assert.equal(events[0].fatal, true);
          await client.close();
        }
      },
    );

    await t.step("quit closes the connection and the others see the user leave", async () => {
      const { client: ann } = await JsonClient.join(server.port, "ann4");
      const { client: bob } = await JsonClient.join(server.port, "bob4");
      await ann.readUntil((event) => event.type === "join" && event.user === "bob4");
      await bob.request({ type: "quit" });
      // Notices of earlier steps' users may still be on their way; nothing else comes.
      const rest = await bob.readToEnd();
      assert.deepEqual(rest.filter((event) => !["join", "leave"].includes(event.type)), []);
      const [leave] = await ann.readUntil((event) => event.type === "leave");
      assert.equal(leave.user, "bob4");
      await Promise.all([ann.close(), bob.close()]);
    });

    await t.step("on SIGTERM a JSON client gets a shutdown notice", async () => {
      const { client: ann } = await JsonClient.join(server.port, "ann5");
      const status = server.stop();
      const events = await ann.readToEnd();
      assert.deepEqual(events.at(-1), {
        type: "notice",
        code: "shutdown",
        text: "server shutting down",
      });
      assert.equal((await status).code, 0);
      await ann.close();
    });
  });
}

Deno.test("a resume gets every message it missed, even beyond the replay window", async () => {
  await using server = await ServerProcess.start({ env: { HISTORY_REPLAY: "2" } });
  const { client: ann } = await JsonClient.join(server.port, "ann");
  const ids: number[] = [];
  for (let i = 0; i < 5; i++) {
    await ann.request({ type: "message", text: `m${i}` });
    ids.push((await ann.readUntil((event) => event.type === "message")).at(-1)!.id);
  }
  const { client: fresh, history: replay } = await JsonClient.join(server.port, "fresh");
  assert.deepEqual(replay.map((event) => event.text), ["m3", "m4"]);
  const { client: back, history } = await JsonClient.join(server.port, "back", ids[0]);
  assert.deepEqual(history.map((event) => event.text), ["m1", "m2", "m3", "m4"]);
  await Promise.all([ann.close(), fresh.close(), back.close()]);
});
