/**
 * The chat server in process: the port it bound, the global and per-address
 * connection limits, and the graceful shutdown.
 */

import assert from "node:assert/strict";
import { InProcessServer } from "../helpers/in_process_server.ts";

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
