/**
 * One behavioural suite for both stores (Redis and embedded SQLite), plus
 * the Redis store's compatibility with the old service's data and its
 * recovery of missed messages.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createLogger } from "../../lib/ops/log.ts";
import { RedisStore } from "../../lib/store/redis_store.ts";
import { SqliteStore } from "../../lib/store/sqlite_store.ts";
import type { Store } from "../../lib/store/store.ts";
import type { ChatEvent } from "../../lib/protocol/model.ts";
import { RedisServer } from "../helpers/redis.ts";

const quiet = createLogger("error", () => {});

interface Opened {
  store: Store;
  /** Opens a second store on the same data, as a restarted server would. */
  reopen(): Promise<Store>;
}

type Opener = (historyLimit: number) => Promise<Opened>;

function waitFor(events: ChatEvent[], count: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (events.length >= count) return resolve();
      if (Date.now() > deadline) {
        return reject(new Error(`got ${events.length} of ${count} events`));
      }
      setTimeout(check, 5);
    };
    check();
  });
}

async function contract(t: Deno.TestContext, open: Opener): Promise<void> {
  await t.step(
    `appended messages get strictly increasing ids and come back oldest first`,
    async () => {
      const { store } = await open(100);
      try {
        const ids = [];
        for (const text of ["one", "two", "three"]) {
          ids.push((await store.append({ user: "ann", text, ts: 1, origin: "o" })).id);
        }
        assert.ok(ids[0] < ids[1] && ids[1] < ids[2], `ids ${ids}`);
        const snapshot = await store.history(10);
        assert.deepEqual(
          snapshot.entries.map((entry) => entry.type === "message" ? entry.text : entry.line),
          ["one", "two", "three"],
        );
        assert.equal(snapshot.lastId, ids[2]);
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    `history returns only the newest entries asked for, and keeps only the retention limit`,
    async () => {
      const { store } = await open(5);
      try {
        for (let i = 1; i <= 8; i++) {
          await store.append({ user: "ann", text: `m${i}`, ts: i, origin: "o" });
        }
        const texts = async (limit: number) =>
          (await store.history(limit)).entries.map((e) => e.type === "message" ? e.text : e.line);
        assert.deepEqual(await texts(3), ["m6", "m7", "m8"]);
        assert.deepEqual(await texts(100), ["m4", "m5", "m6", "m7", "m8"]);
        assert.deepEqual(await texts(0), []);
        assert.equal((await store.history(0)).lastId, 8);
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    `the subscriber gets every message once, in id order, with its origin, and notices`,
    async () => {
      const { store } = await open(1000);
      const events: ChatEvent[] = [];
      try {
        await store.subscribe((event) => events.push(event));
        const sent = await Promise.all(
          Array.from(
            { length: 50 },
            (_, i) =>
              store.append({ user: `u${i % 3}`, text: `t${i}`, ts: i, origin: `o${i % 3}` }),
          ),
        );
        await store.publish({ type: "join", user: "zed", ts: 1, origin: "z" });
        await waitFor(events, 51);
        const messages = events.filter((e) => e.type === "message");
        assert.deepEqual(
          messages.map((e) => e.type === "message" && e.id),
          sent.map((m) => m.id).sort((a, b) => a - b),
        );
        const first = messages.find((e) => e.type === "message" && e.id === sent[7].id);
        assert.equal(first?.origin, "o1");
        assert.deepEqual(events.at(-1), { type: "join", user: "zed", ts: 1, origin: "z" });
      } finally {
        await store.close();
      }
    },
  );

  await t.step(`messages survive reopening the store, and ids keep increasing`, async () => {
    const { store, reopen } = await open(100);
    const before = await store.append({ user: "ann", text: "kept", ts: 1, origin: "o" });
    await store.close();
    const again = await reopen();
    try {
      const snapshot = await again.history(10);
      assert.deepEqual(snapshot.entries.at(-1), { type: "message", ...before });
      const after = await again.append({ user: "bob", text: "next", ts: 2, origin: "o" });
      assert.ok(after.id > before.id);
    } finally {
      await again.close();
    }
  });
  await t.step("the history's epoch stays the same across appends and reopening", async () => {
    const { store, reopen } = await open(100);
    const { epoch } = await store.history(10);
    assert.match(epoch, /^[A-Za-z0-9_-]{16,}$/);
    await store.append({ user: "ann", text: "kept", ts: 1, origin: "o" });
    assert.equal((await store.history(10)).epoch, epoch);
    await store.close();
    const again = await reopen();
    try {
      assert.equal((await again.history(10)).epoch, epoch);
    } finally {
      await again.close();
    }
  });
}

Deno.test("embedded store", async (t) => {
  const dirs: string[] = [];
  await contract(t, async (historyLimit) => {
    const dataDir = await Deno.makeTempDir({ prefix: "chat-store-" });
    dirs.push(dataDir);
    const openOne = () => SqliteStore.open({ dataDir, historyLimit });
    return { store: await openOne(), reopen: openOne };
  });
  await t.step("a lost database file gives the new history a new epoch", async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "chat-store-" });
    dirs.push(dataDir);
    const first = await SqliteStore.open({ dataDir, historyLimit: 100 });
    await first.append({ user: "ann", text: "gone", ts: 1, origin: "o" });
    const { epoch } = await first.history(10);
    await first.close();
    for await (const entry of Deno.readDir(dataDir)) await Deno.remove(`${dataDir}/${entry.name}`);
    const again = await SqliteStore.open({ dataDir, historyLimit: 100 });
    try {
      const snapshot = await again.history(10);
      assert.notEqual(snapshot.epoch, epoch);
      assert.deepEqual(snapshot.entries, []);
    } finally {
      await again.close();
    }
  });
  for (const dir of dirs) await Deno.remove(dir, { recursive: true });
});

Deno.test("the embedded store skips a row that is not a message, and reads a NULL ref as none", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-store-" });
  try {
    const store = await SqliteStore.open({ dataDir, historyLimit: 100 });
    await store.append({ user: "ann", text: "kept", ts: 1, origin: "o" });
    await store.close();
    // SQLite stores a value of another type as it is, whatever the column says.
    const db = new DatabaseSync(`${dataDir}/chat.sqlite`);
    db.exec("INSERT INTO messages (user, text, ts, ref) VALUES ('bob', 'odd', 'soon', NULL)");
    db.close();
    const again = await SqliteStore.open({ dataDir, historyLimit: 100 });
    try {
      const snapshot = await again.history(10);
      assert.deepEqual(snapshot.entries, [
        { type: "message", id: 1, user: "ann", text: "kept", ts: 1 },
      ]);
      assert.equal(snapshot.lastId, 2);
    } finally {
      await again.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Redis store", async (t) => {
  await using redis = await RedisServer.start();
  let keys = 0;
  const openRedis = (historyKey: string, historyLimit: number): Promise<RedisStore> =>
    RedisStore.connect({ redis: { url: redis.url }, historyKey, historyLimit, logger: quiet });

  await contract(t, async (historyLimit) => {
    const key = `test_${++keys}`;
    return {
      store: await openRedis(key, historyLimit),
      reopen: () => openRedis(key, historyLimit),
    };
  });

  await t.step(
    "entries written by the old service are replayed unchanged before new ones",
    async () => {
      await redis.command("RPUSH", "chat_history", "[alice]: hi from python", "[bob]: hello");
      const store = await openRedis("chat_history", 100);
      try {
        const stored = await store.append({
          user: "carol",
          text: "hi from deno",
          ts: 5,
          origin: "o",
        });
        assert.equal(stored.id, 1);
        const snapshot = await store.history(100);
        assert.deepEqual(snapshot.entries, [
          { type: "legacy", line: "[alice]: hi from python" },
          { type: "legacy", line: "[bob]: hello" },
          { type: "message", id: 1, user: "carol", text: "hi from deno", ts: 5 },
        ]);
        assert.equal(snapshot.lastId, 1);
        const raw = await redis.command("LRANGE", "chat_history", "0", "-1") as string[];
        assert.equal(raw.length, 3);
        assert.deepEqual(JSON.parse(raw[2]), { id: 1, user: "carol", text: "hi from deno", ts: 5 });
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "appends made back to back over many turns are stored in the order made, two batches in flight",
    async () => {
      const store = await openRedis("in_flight_order", 1000);
      try {
        const appends: Promise<{ id: number }>[] = [];
        for (let i = 1; i <= 300; i++) {
          appends.push(store.append({ user: "ann", text: `m${i}`, ts: i, origin: "o" }));
          // A new turn every 5 appends: many batches, two of them in flight at a time.
          if (i % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const ids = (await Promise.all(appends)).map((stored) => stored.id);
        assert.deepEqual(ids, ids.map((_, i) => ids[0] + i), "ids follow the order of the appends");
        const snapshot = await store.history(1000);
        assert.deepEqual(
          snapshot.entries.map((entry) => entry.type === "message" ? entry.text : entry.line),
          ids.map((_, i) => `m${i + 1}`),
        );
      } finally {
        await store.close();
      }
    },
  );

  await t.step("a lost id counter never reissues an id still in the list", async () => {
    const store = await openRedis("lost_counter", 100);
    try {
      await store.append({ user: "ann", text: "a", ts: 1, origin: "o" });
      const second = await store.append({ user: "ann", text: "b", ts: 2, origin: "o" });
      assert.equal(await redis.command("DEL", "{lost_counter}:seq"), 1);
      const third = await store.append({ user: "ann", text: "c", ts: 3, origin: "o" });
      assert.equal(third.id, second.id + 1);
    } finally {
      await store.close();
    }
  });

  await t.step(
    "an old `K:seq` counter is moved to `{K}:seq` at start, and ids continue after it",
    async () => {
      await redis.command("RPUSH", "moved", JSON.stringify({ id: 7, user: "a", text: "x", ts: 1 }));
      await redis.command("SET", "moved:seq", "7");
      const store = await openRedis("moved", 100);
      try {
        assert.equal(await redis.command("EXISTS", "moved:seq"), 0);
        assert.equal(await redis.command("GET", "{moved}:seq"), "7");
        const next = await store.append({ user: "ann", text: "y", ts: 2, origin: "o" });
        assert.equal(next.id, 8);
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "while an older replica still counts in `K:seq`, both counters stay in step",
    async () => {
      const store = await openRedis("rolling", 100);
      try {
        await store.append({ user: "ann", text: "new 1", ts: 1, origin: "o" });
        // An older replica's append: INCR of the old key (which it re-creates).
        await redis.command("SET", "rolling:seq", "1");
        assert.equal(await redis.command("INCR", "rolling:seq"), 2);
        const next = await store.append({ user: "ann", text: "new 3", ts: 3, origin: "o" });
        assert.equal(next.id, 3);
        assert.equal(await redis.command("INCR", "rolling:seq"), 4);
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "messages whose publication was missed are read back from the list, in order",
    async () => {
      const store = await openRedis("missed", 100);
      const events: ChatEvent[] = [];
      try {
        await store.subscribe((event) => events.push(event));
        await store.append({ user: "ann", text: "1", ts: 1, origin: "o" });
        await waitFor(events, 1);
        // Two messages stored without being published, as if the subscriber had
        // been disconnected, then one published normally.
        for (const id of [2, 3]) {
          await redis.command(
            "RPUSH",
            "missed",
            JSON.stringify({ id, user: "ann", text: String(id), ts: id }),
          );
        }
        await redis.command("SET", "{missed}:seq", "3");
        await store.append({ user: "ann", text: "4", ts: 4, origin: "o" });
        await waitFor(events, 4);
        assert.deepEqual(events.map((e) => e.type === "message" && e.text), ["1", "2", "3", "4"]);
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "an event on the channel that is not a chat event is skipped and logged without its content",
    async () => {
      const logged: Record<string, unknown>[] = [];
      const logger = createLogger("warn", {
        format: "json",
        write: (line) => logged.push(JSON.parse(line)),
      });
      const store = await RedisStore.connect({
        redis: { url: redis.url },
        historyKey: "foreign",
        historyLimit: 100,
        logger,
      });
      const events: ChatEvent[] = [];
      try {
        await store.subscribe((event) => events.push(event));
        for (
          const raw of [
            "secret words",
            '{"type":"message","origin":"o","id":-1,"user":"x","text":"secret","ts":1}',
            '{"type":"join","origin":"o","user":"x"}',
          ]
        ) {
          await redis.command("PUBLISH", "foreign:events", raw);
        }
        await store.append({ user: "ann", text: "ours", ts: 1, origin: "o" });
        await waitFor(events, 1);
        assert.deepEqual(events.map((e) => e.type === "message" && e.text), ["ours"]);
        assert.equal(logged.length, 3, JSON.stringify(logged));
        for (const entry of logged) {
          assert.equal(entry.msg, "ignored a malformed Redis event");
          assert.equal(entry.role, "subscriber");
          assert.equal(entry.url, redis.url);
          assert.equal(entry.channel, "foreign:events");
          assert.equal(entry.reason, "not a chat event");
        }
        assert.ok(!JSON.stringify(logged).includes("secret"), "event content is not logged");
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "appending while Redis is down fails with a clear error, and works again after it returns",
    async () => {
      const store = await openRedis("outage", 100);
      try {
        await store.append({ user: "ann", text: "before", ts: 1, origin: "o" });
        await redis.stop();
        await assert.rejects(
          store.append({ user: "ann", text: "during", ts: 2, origin: "o" }),
          { name: "StoreUnavailableError" },
        );
        await redis.restart();
        const deadline = Date.now() + 15_000;
        let stored = null;
        while (!stored && Date.now() < deadline) {
          stored = await store.append({ user: "ann", text: "after", ts: 3, origin: "o" }).catch(
            () => new Promise<null>((resolve) => setTimeout(() => resolve(null), 100)),
          );
        }
        assert.ok(stored, "append never succeeded after Redis came back");
        const texts = (await store.history(10)).entries.map((e) => e.type === "message" && e.text);
        assert.deepEqual(texts, ["before", "after"]);
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "a flushed history gets a new epoch, and ids go on above those delivered",
    async () => {
      const store = await openRedis("flushed", 100);
      const events: ChatEvent[] = [];
      try {
        await store.subscribe((event) => events.push(event));
        for (const text of ["1", "2", "3"]) {
          await store.append({ user: "ann", text, ts: 1, origin: "o" });
        }
        await waitFor(events, 3);
        const before = await store.history(10);
        assert.equal(await redis.command("GET", "{flushed}:epoch"), before.epoch);
        await redis.command("DEL", "flushed", "{flushed}:seq", "{flushed}:epoch");
        const after = await store.history(10);
        assert.notEqual(after.epoch, before.epoch);
        assert.deepEqual(after.entries, []);
        const next = await store.append({ user: "ann", text: "4", ts: 4, origin: "o" });
        assert.equal(next.id, 4, "no id delivered before is issued again");
        await waitFor(events, 4);
        assert.equal((await store.history(10)).epoch, after.epoch, "one loss, one new epoch");
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "a counter rolled back below what was delivered (a failover) replaces the epoch, at append or join",
    async () => {
      const store = await openRedis("rolled_back", 100);
      const events: ChatEvent[] = [];
      try {
        await store.subscribe((event) => events.push(event));
        for (const text of ["1", "2", "3", "4"]) {
          await store.append({ user: "ann", text, ts: 1, origin: "o" });
        }
        await waitFor(events, 4);
        const { epoch } = await store.history(10);
        // What a replica that had not received the last two writes holds.
        await redis.command("SET", "{rolled_back}:seq", "2");
        await redis.command("LTRIM", "rolled_back", "0", "1");
        const next = await store.append({ user: "ann", text: "5", ts: 5, origin: "o" });
        assert.equal(next.id, 5);
        await waitFor(events, 5);
        const snapshot = await store.history(10);
        assert.notEqual(snapshot.epoch, epoch);
        assert.deepEqual(snapshot.entries.map((e) => e.type === "message" && e.id), [1, 2, 5]);

        await redis.command("SET", "{rolled_back}:seq", "2");
        assert.notEqual((await store.history(10)).epoch, snapshot.epoch, "found at a join too");
        assert.equal(Number(await redis.command("GET", "{rolled_back}:seq")), 5);
      } finally {
        await store.close();
      }
    },
  );
});
