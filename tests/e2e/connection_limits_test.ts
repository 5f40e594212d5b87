/**
 * Connection limits on a real server process (issue 5, item 2): a client
 * that never sends its name is cut off after the handshake timeout, the
 * global and the per-address limits turn connections away with a reason
 * before closing them and free a slot when someone leaves, and loopback is
 * exempt from the per-address limit unless told otherwise.
 */

import assert from "node:assert/strict";
import { TextClient } from "../helpers/client.ts";
import { joinWhenFree, tryJoin } from "../helpers/admission.ts";
import { ServerProcess } from "../helpers/server.ts";

Deno.test("a client that never sends its name is told so after the handshake timeout and closed", async () => {
  await using server = await ServerProcess.start({ env: { HANDSHAKE_TIMEOUT: "1" } });
  const silent = await TextClient.connect(server.port);
  const started = performance.now();
  assert.deepEqual(await silent.readToEnd(5_000), ["! no name received within 1 s"]);
  const waited = performance.now() - started;
  // Not before the timeout, and not long after it (a timer, not a sweep).
  assert.ok(waited >= 900 && waited < 3_000, `closed after ${Math.round(waited)} ms`);
  await silent.close();
});

Deno.test("past MAX_CONNECTIONS a connection is told the server is full and closed, until someone leaves", async () => {
  await using server = await ServerProcess.start({ env: { MAX_CONNECTIONS: "3" } });
  const clients = await Promise.all(
    ["full1", "full2", "full3"].map(async (name) =>
      (await TextClient.join(server.port, name)).client
    ),
  );
  // Turned away before its first line is read: the name is never looked at.
  const fourth = await TextClient.connect(server.port);
  assert.deepEqual(await fourth.readToEnd(), ["! server full; try again later"]);
  await fourth.close();

  await clients[0].close();
  // The slot frees once the server has seen the close.
  const late = await joinWhenFree(server.port, "full4", "! server full; try again later");
  await Promise.all([...clients.slice(1), late].map((client) => client.close()));
});

Deno.test("past MAX_CONNECTIONS_PER_IP an address is turned away, and loopback is exempt unless TRUSTED_NETWORKS says none", async () => {
  const limit = { MAX_CONNECTIONS_PER_IP: "2" };
  await using strict = await ServerProcess.start({ env: { ...limit, TRUSTED_NETWORKS: "none" } });
  await using exempt = await ServerProcess.start({ env: limit });
  const refusal = "! too many connections from your address; try again later";

  const first = await tryJoin(strict.port, "ip1");
  const second = await tryJoin(strict.port, "ip2");
  assert.ok(first instanceof TextClient && second instanceof TextClient);
  assert.deepEqual(await tryJoin(strict.port, "ip3"), [refusal]);
  await first.close();
  const third = await joinWhenFree(strict.port, "ip3", refusal);

  // The same three from loopback, with the default trusted networks.
  const loopback = await Promise.all(
    ["lo1", "lo2", "lo3"].map((name) => tryJoin(exempt.port, name)),
  );
  for (const client of loopback) assert.ok(client instanceof TextClient, JSON.stringify(client));
  await Promise.all([second, third, ...loopback as TextClient[]].map((client) => client.close()));
});
