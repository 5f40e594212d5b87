/**
 * Presence through Redis, on a real redis-server: the shared contract, plus
 * what only Redis has: replicas seeing each other's users, the key layout,
 * large batches, and failing fast when Redis is down or hung.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../lib/ops/log.ts";
import { foldName } from "../../lib/store/presence.ts";
import { RedisPresence } from "../../lib/store/redis_presence.ts";
import { StoreUnavailableError } from "../../lib/store/store.ts";
import { sleep } from "../../lib/util/deadline.ts";
import { RedisServer } from "../helpers/redis.ts";
import { presenceContract, TTL_MS } from "./presence_contract.ts";

const quiet = createLogger("error", () => {});

Deno.test("Redis presence keeps the presence contract, and more across replicas", async (t) => {
  await using redis = await RedisServer.start({ appendOnly: false });
  let keys = 0;
  const connect = (key: string, ttlMs: number, commandTimeoutMs?: number) =>
    RedisPresence.connect({
      redis: { url: redis.url },
      key,
      ttlMs,
      logger: quiet,
      commandTimeoutMs,
    });

  await presenceContract(t, (ttlMs) => connect(`presence_${++keys}`, ttlMs));

  await t.step("two replicas see each other's users and respect each other's claims", async () => {
    const a = await connect("replicas", 60_000);
    const b = await connect("replicas", 60_000);
    try {
      assert.equal(await a.claim("alice", "a:1"), true);
      assert.equal(await b.claim("Alice", "b:1"), false);
      assert.equal(await b.claim("bob", "b:2"), true);
      assert.deepEqual(await a.list(), ["alice", "bob"]);
      assert.deepEqual(await b.list(), ["alice", "bob"]);
      await b.release("alice", "b:1");
      assert.deepEqual(await a.list(), ["alice", "bob"], "b cannot release a's user");
      await a.release("alice", "a:1");
      assert.equal(await b.claim("Alice", "b:3"), true);
      assert.deepEqual(await a.list(), ["Alice", "bob"]);

      // Forty connections on two replicas race for one name: exactly one wins.
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).claim("carol", `racer:${i}`)),
      );
      assert.equal(results.filter(Boolean).length, 1, `winners: ${results}`);
    } finally {
      await a.close();
      await b.close();
    }
  });

  await t.step(
    "the keys are a sorted set of folded names by expiry and a hash of owners",
    async () => {
      const p = await connect("layout", 60_000);
      try {
        const before = Date.now();
        await p.claim("Zoë", "conn-7");
        const score = Number(await redis.command("ZSCORE", "layout", foldName("Zoë")));
        assert.ok(
          score >= before + 60_000 - 1_000 && score <= Date.now() + 60_000 + 1_000,
          `expiry ${score} is about now + ttl`,
        );
        const owner = await redis.command("HGET", "layout:owners", "zoë") as string;
        assert.deepEqual(JSON.parse(owner), { owner: "conn-7", name: "Zoë" });
        await p.release("zoë", "conn-7");
        assert.equal(await redis.command("EXISTS", "layout", "layout:owners"), 0);
      } finally {
        await p.close();
      }
    },
  );

  await t.step(
    "refreshing more claims than one script run takes reports the right ones lost",
    async () => {
      const p = await connect("batches", 60_000);
      try {
        const claims = Array.from({ length: 1_234 }, (_, i) => ({ user: `u${i}`, owner: "mine" }));
        for (const index of [0, 499, 500, 777, 1_233]) {
          await p.claim(`u${index}`, "someone else");
        }
        assert.deepEqual(await p.refresh(claims), ["u0", "u499", "u500", "u777", "u1233"]);
        assert.equal((await p.list()).length, 1_234);
      } finally {
        await p.close();
      }
    },
  );

  await t.step("thousands of expired claims are swept at once", async () => {
    const p = await connect("sweep", TTL_MS);
    try {
      await p.refresh(Array.from({ length: 1_500 }, (_, i) => ({ user: `u${i}`, owner: "gone" })));
      assert.equal(await redis.command("ZCARD", "sweep"), 1_500);
      await sleep(TTL_MS + 150);
      assert.deepEqual(await p.list(), []);
      assert.equal(await redis.command("EXISTS", "sweep", "sweep:owners"), 0);
    } finally {
      await p.close();
    }
  });

  await t.step("a hash entry without a claim in the sorted set holds nothing", async () => {
    const p = await connect("stray", 60_000);
    try {
      await redis.command("HSET", "stray:owners", "alice", '{"owner":"ghost","name":"alice"}');
      assert.equal(await p.claim("alice", "c1"), true);
      assert.deepEqual(await p.list(), ["alice"]);
    } finally {
      await p.close();
    }
  });

  await t.step("out-of-range ttls are refused", async () => {
    for (const ttlMs of [0, -5, 1.5, NaN]) {
      await assert.rejects(connect("ttl", ttlMs), { name: "RangeError", message: /ttlMs/ });
    }
  });

  await t.step("scripts flushed from Redis are loaded again", async () => {
    const p = await connect("flushed", 60_000);
    try {
      await p.claim("alice", "c1");
      await redis.command("SCRIPT", "FLUSH");
      assert.equal(await p.claim("bob", "c1"), true);
      assert.deepEqual(await p.list(), ["alice", "bob"]);
    } finally {
      await p.close();
    }
  });

  await t.step(
    "a hung Redis fails each call with StoreUnavailableError within the timeout",
    async () => {
      const p = await connect("hung", 60_000, 300);
      try {
        // WRITE pauses scripts (they may write) but not the UNPAUSE below.
        await redis.command("CLIENT", "PAUSE", "10000", "WRITE");
        const started = performance.now();
        await assert.rejects(p.claim("alice", "c1"), (error: unknown) => {
          assert.ok(error instanceof StoreUnavailableError, String(error));
          assert.match(error.message, /no answer within 300 ms/);
          return true;
        });
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 1_000, `failed after ${Math.round(elapsed)} ms`);
      } finally {
        await redis.command("CLIENT", "UNPAUSE");
        await p.close();
      }
    },
  );

  await t.step(
    "a stopped Redis fails each call at once, and presence works again once it is back",
    async () => {
      const p = await connect("outage", 60_000, 1_000);
      try {
        await p.claim("alice", "c1");
        await redis.stop();
        const calls = [
          () => p.claim("bob", "c2"),
          () => p.release("alice", "c1"),
          () => p.list(),
          () => p.refresh([{ user: "alice", owner: "c1" }]),
        ];
        for (const call of calls) {
          const started = performance.now();
          await assert.rejects(call(), StoreUnavailableError);
          const elapsed = performance.now() - started;
          assert.ok(elapsed < 1_500, `failed after ${Math.round(elapsed)} ms`);
        }
        await redis.restart();
        const deadline = Date.now() + 15_000;
        let names: string[] | null = null;
        while (names === null && Date.now() < deadline) {
          names = await p.list().catch(() => sleep(100).then(() => null));
        }
        assert.ok(names !== null, "presence never recovered after Redis came back");
        assert.equal(await p.claim("bob", "c2"), true);
      } finally {
        await p.close();
      }
    },
  );
});
