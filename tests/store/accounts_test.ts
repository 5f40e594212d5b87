/**
 * The accounts contract on both stores (SQLite in a temporary directory,
 * Redis on a real redis-server): registration once per folded name, and
 * changes that only succeed against the record last read.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../lib/ops/log.ts";
import { type Accounts, type PasswordRecord } from "../../lib/store/accounts.ts";
import { RedisAccounts } from "../../lib/store/redis_accounts.ts";
import { SqliteAccounts } from "../../lib/store/sqlite_accounts.ts";
import { RedisServer } from "../helpers/redis.ts";

const record = (hash: string): PasswordRecord => ({
  alg: "scrypt",
  N: 16384,
  r: 8,
  p: 1,
  salt: "c2FsdA==",
  hash,
});

async function contract(t: Deno.TestContext, open: () => Promise<Accounts>): Promise<void> {
  await t.step("a name is registered once, without regard to case", async () => {
    const accounts = await open();
    try {
      assert.equal(await accounts.get("alice"), null);
      assert.equal(await accounts.create("Alice", record("AAAA")), true);
      assert.equal(await accounts.create("ALICE", record("BBBB")), false);
      assert.deepEqual(await accounts.get("alice"), record("AAAA"));
    } finally {
      await accounts.close();
    }
  });

  await t.step("a change succeeds only against the record last read", async () => {
    const accounts = await open();
    try {
      await accounts.create("bob", record("AAAA"));
      assert.equal(await accounts.replace("bob", record("ZZZZ"), record("BBBB")), false);
      assert.equal(await accounts.replace("bob", record("AAAA"), record("BBBB")), true);
      assert.equal(await accounts.remove("bob", record("AAAA")), false);
      assert.deepEqual(await accounts.get("Bob"), record("BBBB"));
      assert.equal(await accounts.remove("BOB", record("BBBB")), true);
      assert.equal(await accounts.get("bob"), null);
      assert.equal(await accounts.create("bob", record("CCCC")), true, "free again");
    } finally {
      await accounts.close();
    }
  });
}

Deno.test("SQLite accounts keep the accounts contract, in the store's file", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-accounts-" });
  try {
    await contract(t, () => SqliteAccounts.open({ dataDir }));
    await Deno.stat(`${dataDir}/chat.sqlite`);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Redis accounts keep the accounts contract, in one hash per history key", async (t) => {
  await using redis = await RedisServer.start({ appendOnly: false });
  const open = () =>
    RedisAccounts.connect({
      redis: { url: redis.url },
      historyKey: "chat_history",
      logger: createLogger("error", () => {}),
    });
  await contract(t, open);
  const stored = await redis.command("HGET", "{chat_history}:accounts", "alice");
  assert.deepEqual(JSON.parse(stored as string), record("AAAA"));
});
