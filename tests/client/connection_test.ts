/**
 * The client's connection logic against a scriptable fake server on real
 * sockets: receipts, resuming with `since` without duplicates, messages in
 * flight or typed during an outage, `slow_down`, `name_taken` while
 * resuming, silent servers, refusals and giving up.
 */

import assert from "node:assert/strict";
import type { ClientEvent } from "../../lib/client/client_event.ts";
import { ChatConnection, type ChatConnectionOptions } from "../../lib/client/connection.ts";
import { ConnectError } from "../../lib/client/handshake.ts";
import { FakeChatServer } from "../helpers/fake_chat_server.ts";
import { sleep } from "../../lib/util/deadline.ts";

/** A connection with fast timers, and every event it produced. */
async function connect(
  server: FakeChatServer,
  options: Partial<ChatConnectionOptions> = {},
): Promise<{ chat: ChatConnection; events: ClientEvent[]; done: Promise<void> }> {
  const chat = await ChatConnection.open({
    host: "127.0.0.1",
    port: server.port,
    user: "alice",
    reconnectTimeoutMs: 5_000,
    initialRetryDelayMs: 20,
    maxRetryDelayMs: 100,
    slowDownMs: 50,
    ...options,
  });
  const events: ClientEvent[] = [];
  const done = (async () => {
    for await (const event of chat.events) events.push(event);
  })();
  return { chat, events, done };
}

const texts = (events: ClientEvent[]) =>
  events.flatMap((event) => event.type === "message" ? [event.message.text] : []);

Deno.test("history first, then a sent message comes back as its own receipt", async () => {
  await using server = FakeChatServer.start();
  await server.store("bob", "before");
  const { chat, events, done } = await connect(server);
  chat.send("  hello \x1b[31m ");
  await server.until(() => texts(events).includes("hello [31m"), "the receipt");
  assert.deepEqual(await chat.quit(), []);
  await done;
  assert.equal(await chat.finished, "quit");
  assert.deepEqual(texts(events), ["before", "hello [31m"]);
  await server.until(() => server.requests.length === 2, "the goodbye");
  const receipt = events.find((event) => event.type === "message" && event.own);
  assert.ok(receipt && receipt.type === "message" && receipt.message.ref);
  assert.deepEqual(server.requests.map((request) => request.type), ["message", "quit"]);
});

Deno.test("blank messages are not sent (the server would never answer them)", async () => {
  await using server = FakeChatServer.start();
  const { chat, done } = await connect(server);
  chat.send("   ");
  chat.send("\x07\x1b");
  assert.deepEqual(await chat.quit(100), []);
  await done;
  await server.until(() => server.requests.length > 0, "the goodbye");
  assert.deepEqual(server.requests.map((request) => request.type), ["quit"]);
});

Deno.test("after a drop it resumes with since and shows what was missed exactly once", async () => {
  await using server = FakeChatServer.start();
  await server.store("bob", "one");
  const { chat, events, done } = await connect(server);
  server.hooks.ignoreSince = true; // replays everything: the client must drop what it saw
  await server.pause();
  await server.store("bob", "two");
  server.listen();
  await server.until(() => events.some((event) => event.type === "reconnected"), "reconnect");
  await server.store("bob", "three");
  await server.until(() => texts(events).includes("three"), "live message");
  await chat.quit();
  await done;
  assert.deepEqual(texts(events), ["one", "two", "three"]);
  assert.deepEqual(server.hellos.map((hello) => hello.since), [undefined, 1]);
  const kinds = events.map((event) => event.type).filter((type) => type !== "retrying");
  assert.deepEqual(kinds, ["message", "disconnected", "message", "reconnected", "message"]);
  assert.deepEqual(events.find((event) => event.type === "reconnected"), {
    type: "reconnected",
    missed: 1,
  });
});

Deno.test("a message stored just before the drop is found by ref and not sent again", async () => {
  await using server = FakeChatServer.start({
    message: (text) =>
      text === "in flight" && server.messages.length === 0 ? "store_and_drop" : undefined,
  });
  const { chat, events, done } = await connect(server);
  chat.send("in flight");
  chat.send("after");
  await server.until(() => texts(events).includes("after"), "both receipts");
  assert.deepEqual(await chat.quit(), []);
  await done;
  assert.deepEqual(server.messages.map((message) => message.text), ["in flight", "after"]);
  assert.deepEqual(texts(events), ["in flight", "after"]);
});

Deno.test("a message lost with the connection is sent again once, in order", async () => {
  let dropped = false;
  await using server = FakeChatServer.start({
    message: (text) => {
      if (text !== "first" || dropped) return undefined;
      dropped = true;
      return "drop";
    },
  });
  const { chat, events, done } = await connect(server);
  chat.send("first");
  chat.send("second");
  await server.until(() => texts(events).includes("second"), "both receipts");
  assert.deepEqual(await chat.quit(), []);
  await done;
  assert.deepEqual(server.messages.map((message) => message.text), ["first", "second"]);
  assert.deepEqual(texts(events), ["first", "second"]);
});

Deno.test("a message typed while disconnected is queued, reported, and sent once after reconnecting", async () => {
  await using server = FakeChatServer.start();
  const { chat, events, done } = await connect(server);
  await server.pause();
  await server.until(() => events.some((event) => event.type === "disconnected"), "the drop");
  chat.send("typed offline");
  await server.until(
    () => events.some((event) => event.type === "queued" && event.text === "typed offline"),
    "the queued report",
  );
  server.listen();
  await server.until(() => texts(events).includes("typed offline"), "the receipt");
  assert.deepEqual(await chat.quit(), []);
  await done;
  assert.deepEqual(server.messages.map((message) => message.text), ["typed offline"]);
});

Deno.test("slow_down: the refused message is sent again after a pause, keeping the order", async () => {
  let refusals = 0;
  await using server = FakeChatServer.start({
    message: (text) =>
      text === "2" && refusals++ < 2
        ? { error: { code: "slow_down", text: "slow down" } }
        : undefined,
  });
  const { chat, events, done } = await connect(server);
  for (const text of ["1", "2", "3"]) chat.send(text);
  await server.until(() => texts(events).includes("3"), "all receipts");
  assert.deepEqual(await chat.quit(), []);
  await done;
  assert.deepEqual(server.messages.map((message) => message.text), ["1", "2", "3"]);
  assert.equal(refusals, 3);
  assert.ok(!events.some((event) => event.type === "not_sent"));
});

Deno.test("an error about a message reports that message as not sent", async () => {
  await using server = FakeChatServer.start({
    message: (text) =>
      text === "big"
        ? { error: { code: "line_too_long", text: "line too long (max 4096 bytes)" } }
        : undefined,
  });
  const { chat, events, done } = await connect(server);
  chat.send("big");
  chat.send("small");
  await server.until(() => texts(events).includes("small"), "the second receipt");
  assert.deepEqual(await chat.quit(), []);
  await done;
  assert.deepEqual(events.filter((event) => event.type === "not_sent"), [
    { type: "not_sent", text: "big", reason: "line too long (max 4096 bytes)" },
  ]);
});

Deno.test("name_taken while resuming is retried until the old name is released", async () => {
  await using server = FakeChatServer.start();
  const { chat, events, done } = await connect(server);
  let refusals = 0;
  server.hooks.hello = () =>
    refusals++ < 2 ? { code: "name_taken", text: "alice is already connected" } : undefined;
  server.dropAll();
  await server.until(() => events.some((event) => event.type === "reconnected"), "reconnect");
  await chat.quit();
  await done;
  assert.equal(refusals, 3);
  assert.equal(events.filter((event) => event.type === "retrying").length, 2);
});

Deno.test("reconnect delays double from the first one up to the longest, with jitter in the upper half", async () => {
  await using server = FakeChatServer.start();
  // The lowest jitter: each delay is half its base (20 ms doubling, 100 ms at most).
  const { chat, events, done } = await connect(server, { random: () => 0 });
  let refusals = 0;
  server.hooks.hello = () =>
    refusals++ < 4 ? { code: "name_taken", text: "alice is already connected" } : undefined;
  server.dropAll();
  await server.until(() => events.some((event) => event.type === "reconnected"), "reconnect");
  await chat.quit();
  await done;
  const delays = events.flatMap((event) => event.type === "retrying" ? [event.delayMs] : []);
  assert.deepEqual(delays, [20, 40, 50, 50]);
});

Deno.test("a refusal at the first hello is a ConnectError with the server's code", async () => {
  await using server = FakeChatServer.start({
    hello: () => ({ code: "name_taken", text: "alice is already connected" }),
  });
  await assert.rejects(
    connect(server),
    (error: unknown) =>
      error instanceof ConnectError && error.code === "name_taken" &&
      error.message === "alice is already connected",
  );
});

Deno.test("a server that cannot be reached at first is a ConnectError naming it", async () => {
  const server = FakeChatServer.start();
  await server.stop();
  await assert.rejects(
    connect(server),
    (error: unknown) =>
      error instanceof ConnectError && error.code === undefined &&
      error.message.includes(`127.0.0.1:${server.port}`),
  );
});

Deno.test("invalid_name while resuming ends the connection as refused", async () => {
  await using server = FakeChatServer.start();
  const { chat, events, done } = await connect(server);
  server.hooks.hello = () => ({ code: "invalid_name", text: "no such names" });
  server.dropAll();
  assert.equal(await chat.finished, "refused");
  await done;
  assert.deepEqual(events.at(-1), { type: "refused", code: "invalid_name", text: "no such names" });
});

Deno.test("it gives up after the reconnect timeout and reports queued messages as not sent", async () => {
  await using server = FakeChatServer.start();
  const { chat, events, done } = await connect(server, { reconnectTimeoutMs: 300 });
  await server.pause();
  await server.until(() => events.some((event) => event.type === "disconnected"), "the drop");
  chat.send("never");
  const started = Date.now();
  assert.equal(await chat.finished, "gave_up");
  await done;
  assert.ok(Date.now() - started < 2_000);
  const tail = events.slice(-2).map((event) => event.type);
  assert.deepEqual(tail, ["gave_up", "not_sent"]);
  assert.deepEqual(await chat.quit(), []);
});

Deno.test("with --reconnect-timeout 0 the first drop ends it", async () => {
  await using server = FakeChatServer.start();
  const { chat, events, done } = await connect(server, { reconnectTimeoutMs: 0 });
  server.dropAll();
  assert.equal(await chat.finished, "gave_up");
  await done;
  assert.deepEqual(events.map((event) => event.type), ["disconnected", "gave_up"]);
  assert.equal(server.hellos.length, 1);
});

Deno.test("a silent server is pinged, and dropped when it stays silent", async () => {
  await using server = FakeChatServer.start();
  const { chat, events, done } = await connect(server, { heartbeatMs: 100 });
  server.hooks.silent = true;
  await server.until(() => events.some((event) => event.type === "disconnected"), "the drop");
  server.hooks.silent = false;
  await server.until(() => events.some((event) => event.type === "reconnected"), "reconnect");
  await chat.quit();
  await done;
  assert.ok(server.requests.some((request) => request.type === "ping"));
});

Deno.test("a server that answers pings keeps the connection", async () => {
  await using server = FakeChatServer.start();
  const { chat, events, done } = await connect(server, { heartbeatMs: 50 });
  await sleep(400);
  await chat.quit();
  await done;
  assert.ok(server.requests.filter((request) => request.type === "ping").length >= 2);
  assert.ok(!events.some((event) => event.type === "disconnected"));
});

Deno.test("quit waits for receipts, but not forever", async () => {
  await using server = FakeChatServer.start({ message: () => "ignore" });
  const { chat, events, done } = await connect(server);
  chat.send("unanswered");
  const started = Date.now();
  assert.deepEqual(await chat.quit(200), ["unanswered"]);
  assert.ok(Date.now() - started < 1_000);
  await done;
  assert.deepEqual(events.at(-1), {
    type: "not_sent",
    text: "unanswered",
    reason: "no receipt from the server before leaving",
  });
});

Deno.test("who, notices and join/leave are passed on; a shutdown notice explains the drop", async () => {
  await using server = FakeChatServer.start();
  const { chat, events, done } = await connect(server);
  chat.request({ type: "who" });
  await server.until(() => events.some((event) => event.type === "who"), "who");
  const [connection] = server.connections;
  await connection.send({ type: "join", user: "bob", ts: 1 });
  await connection.send({ type: "future_event", x: 1 });
  await connection.send({ type: "notice", code: "maintenance", text: "back soon" });
  await connection.send({ type: "notice", code: "shutdown", text: "server shutting down" });
  server.dropAll();
  await server.until(() => events.some((event) => event.type === "reconnected"), "reconnect");
  await chat.quit();
  await done;
  assert.deepEqual(events.slice(0, 4), [
    { type: "who", users: ["alice"] },
    { type: "join", user: "bob", ts: 1 },
    { type: "notice", code: "maintenance", text: "back soon" },
    { type: "disconnected", reason: "server shutting down", timeoutMs: 5_000 },
  ]);
});
