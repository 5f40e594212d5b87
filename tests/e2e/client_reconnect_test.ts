/**
 * The client across server restarts, against real server processes: a
 * reader stays connected while the server is stopped and started again on
 * the same port and data directory and a writer keeps sending, also during
 * the outage. Afterwards the reader must have shown every stored message
 * exactly once, in the store's order, and the writer's messages must each
 * be stored exactly once. And when the server does not come back, the client
 * gives up with a clear message and exit code 1.
 */

import assert from "node:assert/strict";
import { JsonClient } from "../helpers/client.ts";
import { ClientProcess } from "../helpers/client_process.ts";
import { ServerProcess } from "../helpers/server.ts";
import { sleep } from "../../lib/util/deadline.ts";

/** The writer sends faster than the default rate limit allows; lift it. */
const SERVER_ENV = { RATE_LIMIT: "1000", RATE_BURST: "1000" };

/** `user: text` of every stored message, oldest first. */
async function stored(port: number): Promise<string[]> {
  const { client, history } = await JsonClient.join(port, "auditor");
  await client.close();
  return history.filter((event) => event.type === "message").map((event) =>
    `${event.user}: ${event.text}`
  );
}

/** The `user: text` part of the client's message lines (`HH:MM user: text`). */
function shownMessages(stdout: string): string[] {
  return stdout.split("\n").flatMap((line) => {
    const match = /^\d\d:\d\d (\S+: .*)$/.exec(line);
    return match ? [match[1]] : [];
  });
}

Deno.test("a restart under connected clients: every message shown once, in order; outage messages sent once", async () => {
  let server = await ServerProcess.start({ env: SERVER_ENV });
  const { port, dataDir } = server;
  try {
    const args = ["127.0.0.1", String(port)];
    await using reader = await ClientProcess.start([
      ...args,
      "reader",
      "--reconnect-timeout",
      "30",
    ]);
    await using writer = await ClientProcess.start([
      ...args,
      "writer",
      "--reconnect-timeout",
      "30",
    ]);
    await reader.until((_, err) => err.includes("connected to"), "the reader to join");
    await writer.until((_, err) => err.includes("connected to"), "the writer to join");

    const send = async (from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        await writer.write(`m${i}\n`);
        await sleep(15);
      }
    };
    await send(1, 10);
    const stopping = server.stop();
    await send(11, 15); // while the server shuts down
    await stopping;
    await writer.until((_, err) => /reconnect/.test(err), "the writer to notice the drop");
    await send(16, 20); // while no server runs
    server = await ServerProcess.start({ port, dataDir, env: SERVER_ENV });
    await send(21, 30);
    await writer.closeStdin();
    assert.equal((await writer.exit(30_000)).code, 0, writer.stderr);
    await reader.until((out) => out.includes("writer: m30"), "the last message", 20_000);
    await reader.closeStdin();
    assert.equal((await reader.exit()).code, 0, reader.stderr);

    const expected = Array.from({ length: 30 }, (_, i) => `writer: m${i + 1}`);
    const history = await stored(port);
    assert.deepEqual(history, expected, "each message stored once, in order");
    assert.deepEqual(
      shownMessages(reader.stdout),
      history,
      "the reader showed the history exactly",
    );
    assert.deepEqual(shownMessages(writer.stdout), history, "the writer saw each receipt once");
    assert.match(reader.stderr, /reconnected/);
    assert.match(writer.stderr, /will be sent after reconnecting/);
    assert.ok(!writer.stderr.includes("not sent"), writer.stderr);
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a server that stays away: the client says so, reports the unsent message and exits 1", async () => {
  const server = await ServerProcess.start();
  try {
    const args = ["127.0.0.1", String(server.port), "bob", "--reconnect-timeout", "1"];
    await using client = await ClientProcess.start(args);
    await client.until((_, err) => err.includes("connected to"), "the client to join");
    await server.stop();
    await client.until((_, err) => err.includes("reconnecting"), "the drop to be noticed");
    await client.write("into the void\n");
    const started = Date.now();
    assert.equal((await client.exit()).code, 1, client.stderr);
    assert.ok(Date.now() - started < 5_000);
    assert.match(client.stderr, /server shutting down|connection lost/);
    assert.match(client.stderr, /could not reconnect within 1 s; giving up/);
    assert.match(client.stderr, /not sent: "into the void"/);
    assert.ok(!client.stdout.includes("\x1b") && !client.stderr.includes("\x1b"));
  } finally {
    await Deno.remove(server.dataDir, { recursive: true });
  }
});
