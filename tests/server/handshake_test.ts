/**
 * The handshake against a real in-process server: the first line picks the
 * dialect and the name; HTTP requests, bad names, bad hellos, taken names and
 * silence are turned away, each counted once under its reason.
 */

import assert from "node:assert/strict";
import { InProcessServer } from "../helpers/in_process_server.ts";

Deno.test("a text client joins with the history, then HISTORY_END", async () => {
  await using server = await InProcessServer.start();
  {
    await using ann = (await server.joinText("ann")).client;
    await ann.send("hello there");
    await using _bob = (await server.joinText("bob")).client;
    await ann.readUntil((line) => line === "* bob joined");
  }
  await using cat = await server.connect();
  await cat.send("cat");
  assert.deepEqual(await cat.readUntil((line) => line === "HISTORY_END"), [
    "[ann]: hello there",
    "HISTORY_END",
  ]);
});

Deno.test("a JSON client joins with the history as objects, then history_end with the last id", async () => {
  await using server = await InProcessServer.start();
  {
    await using ann = (await server.joinText("ann")).client;
    await ann.send("first");
    await using _bob = (await server.joinText("bob")).client;
    await ann.readUntil((line) => line === "* bob joined");
  }
  const { client, history } = await server.joinJson("cat");
  await using _cat = client;
  const events = history.map((line) => JSON.parse(line));
  assert.equal(events.length, 2);
  assert.equal(events[0].type, "message");
  assert.equal(events[0].user, "ann");
  assert.equal(events[0].text, "first");
  assert.equal(events[1].type, "history_end");
  assert.equal(events[1].id, events[0].id);
});

Deno.test("an HTTP request is answered 400, counted as a probe and never shown as a user", async () => {
  await using server = await InProcessServer.start();
  await using probe = await server.connect();
  await probe.send("GET / HTTP/1.1\r\nHost: chat\r\n\r");
  const answer = await probe.readToEnd();
  assert.match(answer[0], /^HTTP\/1\.[01] 400 /);
  assert.equal(server.metrics.refused.http_probe.value, 1);
  assert.equal(server.metrics.connectionsRefused.labels({ reason: "invalid_name" }).value, 0);

  await using ann = (await server.joinText("ann")).client;
  await ann.send("/who");
  assert.deepEqual(await ann.readUntil((line) => line.startsWith("* online")), [
    "* online (1): ann",
  ]);
});

Deno.test("an invalid name is a fatal error, counted once as invalid_name", async () => {
  await using server = await InProcessServer.start();
  await using client = await server.connect();
  await client.send("   ");
  const lines = await client.readToEnd();
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^! invalid name: /);
  assert.equal(server.metrics.refused.invalid_name.value, 1);
  assert.ok(
    server.logs.some((line) => /refused .*code=invalid_name/.test(line)),
    server.logs.join("\n"),
  );
});

Deno.test("a malformed JSON hello is a fatal bad_hello error in JSON", async () => {
  await using server = await InProcessServer.start();
  await using client = await server.connect();
  await client.send('{"type":"hello"}');
  const lines = await client.readToEnd();
  assert.equal(lines.length, 1);
  const error = JSON.parse(lines[0]);
  assert.equal(error.type, "error");
  assert.equal(error.code, "bad_hello");
  assert.equal(error.fatal, true);
  assert.equal(server.metrics.refused.bad_hello.value, 1);
});

Deno.test("a name held by someone online, in any case, is refused as name_taken", async () => {
  await using server = await InProcessServer.start();
  await using ann = (await server.joinText("ann")).client;
  await using other = await server.connect();
  await other.send("ANN");
  const lines = await other.readToEnd();
  assert.deepEqual(lines, ["! the name ANN is taken by someone online; choose another"]);
  assert.equal(server.metrics.refused.name_taken.value, 1);
  await ann.send("/who");
  assert.deepEqual(await ann.readUntil((line) => line.startsWith("* online")), [
    "* online (1): ann",
  ]);
});

Deno.test("a client that sends no name within the handshake timeout is refused and counted once", async () => {
  await using server = await InProcessServer.start({ handshakeTimeoutMs: 100 });
  await using silent = await server.connect();
  const lines = await silent.readToEnd();
  assert.deepEqual(lines, ["! no name received within 0.1 s"]);
  assert.equal(server.metrics.refused.handshake_timeout.value, 1);
});

Deno.test("a name line over the line limit is refused as line_too_long", async () => {
  await using server = await InProcessServer.start({ maxLineBytes: 64 });
  await using client = await server.connect();
  await client.send("x".repeat(100));
  const lines = await client.readToEnd();
  assert.deepEqual(lines, ["! name line too long (max 64 bytes)"]);
  assert.equal(server.metrics.refused.line_too_long.value, 1);
});
