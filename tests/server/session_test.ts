/**
 * A joined session against a real in-process server: messages, receipts,
 * commands, leaving, and each way of being disconnected, counted once.
 */

import assert from "node:assert/strict";
import { InProcessServer } from "../helpers/in_process_server.ts";
import { sleep } from "../../lib/util/deadline.ts";

Deno.test("a text sender gets no echo while a JSON sender gets its own message back as a receipt", async () => {
  await using server = await InProcessServer.start();
  await using ann = (await server.joinText("ann")).client;
  await using bob = (await server.joinJson("bob")).client;
  await ann.readUntil((line) => line === "* bob joined");

  await ann.send("from ann");
  const received = JSON.parse((await bob.readUntil((line) => line.includes("from ann"))).at(-1)!);
  assert.equal(received.type, "message");
  assert.equal(received.user, "ann");

  await bob.send(JSON.stringify({ type: "message", text: "from bob", ref: "r1" }));
  const receipt = JSON.parse((await bob.readUntil((line) => line.includes("from bob"))).at(-1)!);
  assert.equal(receipt.user, "bob");
  assert.ok(receipt.id > received.id, "the receipt carries the stored id");
  // ann's next line is bob's message: her own was never echoed to her.
  assert.equal(await ann.next(), "[bob]: from bob");
  assert.equal(server.metrics.messagesStored.value, 2);
});

Deno.test("/who lists everyone online", async () => {
  await using server = await InProcessServer.start();
  await using ann = (await server.joinText("ann")).client;
  await using bob = (await server.joinText("bob")).client;
  await bob.send("/who");
  assert.deepEqual(await bob.readUntil((line) => line.startsWith("* online")), [
    "* online (2): ann, bob",
  ]);
  await ann.readUntil((line) => line === "* bob joined");
});

Deno.test("exit closes the connection, the others see the leave and the name is free again", async () => {
  await using server = await InProcessServer.start();
  await using ann = (await server.joinText("ann")).client;
  {
    await using bob = (await server.joinText("bob")).client;
    await ann.readUntil((line) => line === "* bob joined");
    await bob.send("exit");
    assert.deepEqual(await bob.readToEnd(), []);
  }
  await ann.readUntil((line) => line === "* bob left");
  await using _again = (await server.joinText("bob")).client;
  assert.ok(server.logs.some((line) => /INFO {2}left remote=\S+ user=bob$/.test(line)));
});

Deno.test("a client that keeps sending over the rate limit is disconnected for flooding, counted once", async () => {
  await using server = await InProcessServer.start({ rateLimit: 1, rateBurst: 2 });
  await using ann = (await server.joinText("ann")).client;
  for (let i = 0; i < 10; i++) await ann.send(`m${i}`).catch(() => {});
  const lines = await ann.readToEnd().catch(() => []);
  assert.equal(lines.at(-1), "! flooding: kept sending faster than the rate limit; disconnected");
  assert.equal(server.metrics.floodersDisconnected.value, 1);
  assert.equal(server.metrics.slowConsumersDisconnected.value, 0);
});

Deno.test("a client that stops reading is disconnected as a slow consumer, counted once, and told why", async () => {
  await using server = await InProcessServer.start({
    queueLimitBytes: 64 * 1024,
    queueSoftLimitBytes: 64 * 1024,
    maxLineBytes: 8192,
    rateLimit: 1_000_000,
    rateBurst: 1_000_000,
  });
  await using slow = (await server.joinText("slow")).client;
  await using writer = (await server.joinText("writer")).client;
  const line = "x".repeat(4000);
  // Enough to fill the loopback buffers and the queue many times over.
  for (let i = 0; i < 5000 && server.metrics.slowConsumersDisconnected.value === 0; i++) {
    await writer.send(line);
    if (i % 50 === 49) await sleep(5);
  }
  assert.equal(server.metrics.slowConsumersDisconnected.value, 1);
  const received = await slow.readToEnd();
  assert.match(
    received.at(-1)!,
    /^! too slow: more than 65536 bytes waiting to be read; disconnected$/,
  );
  assert.ok(server.logs.some((l) => /WARN {2}disconnected .*user=slow code=slow_consumer/.test(l)));

  // The others are unaffected: the writer still chats.
  await writer.send("/who");
  const seen = await writer.readUntil((l) => l.startsWith("* online"));
  assert.deepEqual(seen.slice(-2), ["* slow left", "* online (1): writer"]);
  assert.equal(server.metrics.slowConsumersDisconnected.value, 1);
});

Deno.test("messages stored together reach everyone in order, and a text sender still never sees its own", async () => {
  await using server = await InProcessServer.start();
  await using ann = (await server.joinText("ann")).client;
  await using bob = (await server.joinText("bob")).client;
  await using cat = (await server.joinJson("cat")).client;
  await ann.readUntil((line) => line === "* cat joined");
  await bob.readUntil((line) => line === "* cat joined");

  // One write of many lines each: a session stores what it read in one turn as one batch.
  const lines = (user: string) => Array.from({ length: 30 }, (_, i) => `${user} ${i}`);
  await Promise.all([ann.send(lines("ann").join("\n")), bob.send(lines("bob").join("\n"))]);
  let messages = 0;
  const fromCat =
    (await cat.readUntil((line) => JSON.parse(line).type === "message" && ++messages === 60)).map((
      line,
    ) => JSON.parse(line)).filter((event) => event.type === "message");
  const seenByAnn = await ann.readUntil((line) => line === "[bob]: bob 29");
  const seenByBob = await bob.readUntil((line) => line === "[ann]: ann 29");

  assert.deepEqual(seenByAnn, lines("bob").map((text) => `[bob]: ${text}`));
  assert.deepEqual(seenByBob, lines("ann").map((text) => `[ann]: ${text}`));
  const ids = fromCat.map((event) => event.id);
  assert.deepEqual(ids, ids.map((_, i) => ids[0] + i), "a JSON client gets all 60, by id");
});
