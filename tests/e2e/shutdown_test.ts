/**
 * Graceful shutdown of a real server process (issue 5, item 8): on SIGTERM
 * and on SIGINT it stops accepting, every client that reads is told
 * `* server shutting down` (or the JSON notice) and closed, and the process
 * exits 0 within the grace period even though one client never reads its
 * output and has megabytes queued.
 */

import assert from "node:assert/strict";
import { JsonClient, TextClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";

const GRACE_S = 2;
const MESSAGES = 2_500;
const PADDING = "x".repeat(4000);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`on ${signal} every reading client is told, and the server exits 0 within the grace period despite a client that never reads`, async () => {
    await using server = await ServerProcess.start({
      env: {
        SHUTDOWN_GRACE: String(GRACE_S),
        RATE_LIMIT: "100000",
        RATE_BURST: "100000",
        // Room for everything below, so that the client that never reads is
        // not dropped as slow but still has its output queued at shutdown.
        QUEUE_LIMIT: String(64 * 1024 * 1024),
        QUEUE_SOFT_LIMIT: String(64 * 1024 * 1024),
      },
    });
    const stuck = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await stuck.write(new TextEncoder().encode("stuck\n"));
    const { client: reader } = await TextClient.join(server.port, "reader");
    const { client: jsonReader } = await JsonClient.join(server.port, "jsonreader");
    const { client: sender } = await TextClient.join(server.port, "sender");

    // About 10 MB: more than the kernel buffers the stuck client's socket
    // holds, so the rest waits in its queue on the server.
    for (let n = 0; n < MESSAGES; n += 100) {
      const lines = Array.from({ length: 100 }, (_, k) => `${n + k} ${PADDING}\n`);
      await sender.write(lines.join(""));
    }
    await reader.readUntil(`[sender]: ${MESSAGES - 1} ${PADDING}`, 30_000);
    await jsonReader.readUntil((event) => event.text === `${MESSAGES - 1} ${PADDING}`, 30_000);

    const started = performance.now();
    const stopping = server.stop(signal);
    for (const client of [reader, sender]) {
      assert.deepEqual(await client.readToEnd(), ["* server shutting down"]);
    }
    assert.deepEqual(await jsonReader.readToEnd(), [
      { type: "notice", code: "shutdown", text: "server shutting down" },
    ]);
    // Still running, giving the stuck client its grace period, but no longer
    // accepting connections.
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    const refusedAfter = performance.now() - started;

    const status = await stopping;
    const took = performance.now() - started;
    assert.equal(status.code, 0, server.logs);
    assert.ok(refusedAfter < took, `refused after ${refusedAfter} ms, exited after ${took} ms`);
    // The stuck client got the grace period, and the exit came soon after.
    assert.ok(took >= GRACE_S * 1000 - 500, `exited after ${Math.round(took)} ms`);
    assert.ok(took < (GRACE_S + 3) * 1000, `exited after ${Math.round(took)} ms`);
    stuck.close();
    await Promise.all([reader.close(), jsonReader.close(), sender.close()]);
  });
}
