/**
 * Waiting for replicas: the subscription's events wait while an append
 * waits for its replicas, so a sender never sees its own message come back
 * before `WAIT` says a replica has it; an append no replica took is not
 * delivered at all. Against real redis-server processes: a master alone, and
 * a master with a replica.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../lib/ops/log.ts";
import { RedisStore } from "../../lib/store/redis_store.ts";
import type { ChatEvent } from "../../lib/protocol/model.ts";
import { RedisServer } from "../helpers/redis.ts";
import { poll } from "../helpers/poll.ts";
import { sleep } from "../../lib/util/deadline.ts";

const quiet = createLogger("error", () => {});

async function openStore(
  url: string,
  commandTimeoutMs = 600,
): Promise<{ store: RedisStore; heard: ChatEvent[] }> {
  const store = await RedisStore.connect({
    redis: { url, minReplicasAck: 1 },
    historyKey: "acked",
    historyLimit: 100,
    logger: quiet,
    commandTimeoutMs,
  });
  const heard: ChatEvent[] = [];
  await store.subscribe((event) => heard.push(event));
  return { store, heard };
}

Deno.test("with no replica to take it, an append is not sent and its message is never delivered", async () => {
  await using master = await RedisServer.start({ appendOnly: false });
  const { store, heard } = await openStore(master.url);
  try {
    await assert.rejects(
      store.append({ user: "ann", text: "alone", ts: 1, origin: "r/1" }),
      { name: "StoreUnavailableError" },
    );
    // The master published it at once; held, then dropped when WAIT came back short.
    assert.equal(await master.command("LLEN", "acked"), 1);
    await store.publish({ type: "join", user: "bob", ts: 2, origin: "r/2" });
    await poll("the notice after it", () => heard.length > 0);
    assert.deepEqual(heard.map((event) => event.type), ["join"]);
  } finally {
    await store.close();
  }
});

Deno.test("with a replica, a message is delivered only after WAIT says the replica has it", async () => {
  await using master = await RedisServer.start({ appendOnly: false });
  await using replica = await RedisServer.start({
    appendOnly: false,
    args: ["--replicaof", master.host, String(master.port)],
  });
  await poll(
    "the replica in sync",
    async () =>
      String(await replica.command("INFO", "replication")).includes("master_link_status:up"),
  );
  const { store, heard } = await openStore(master.url, 8_000);
  try {
    // Paused, the replica cannot acknowledge for a while (WAIT may take 4 s).
    await replica.command("CLIENT", "PAUSE", "1500", "ALL");
    const appending = store.append({ user: "ann", text: "twice kept", ts: 1, origin: "r/1" });
    await poll(
      "stored and published on the master",
      async () => await master.command("LLEN", "acked") === 1,
    );
    await sleep(200);
    assert.equal(heard.length, 0, "not delivered while WAIT waits");
    const stored = await appending;
    assert.equal(stored.text, "twice kept");
    assert.deepEqual(heard.map((event) => event.type === "message" && event.text), ["twice kept"]);
  } finally {
    await store.close();
  }
});
