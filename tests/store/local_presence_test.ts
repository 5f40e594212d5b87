/**
 * Presence in one process's memory: the shared contract, and claims that
 * last until released when no ttl is given.
 */

import assert from "node:assert/strict";
import { LocalPresence } from "../../lib/store/local_presence.ts";
import { sleep } from "../../lib/util/deadline.ts";
import { presenceContract } from "./presence_contract.ts";

Deno.test("local presence keeps the presence contract", async (t) => {
  await presenceContract(t, (ttlMs) => Promise.resolve(new LocalPresence({ ttlMs })));

  await t.step("without a ttl, claims last until released", async () => {
    const p = new LocalPresence();
    await p.claim("alice", "c1");
    await sleep(50);
    assert.equal(await p.claim("alice", "c2"), false);
    await p.close();
    assert.deepEqual(await p.list(), [], "close forgets everything");
  });
});

Deno.test("a local presence refuses a ttl that is not above 0", () => {
  for (const ttlMs of [0, -5, NaN]) {
    assert.throws(() => new LocalPresence({ ttlMs }), RangeError, String(ttlMs));
  }
});
