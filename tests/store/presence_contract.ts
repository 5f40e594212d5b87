/**
 * The behaviour every presence implementation shares (`lib/store/presence.ts`),
 * as test steps: `local_presence_test.ts` and `redis_presence_test.ts` run
 * them against their implementation. Not a test file itself.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Presence } from "../../lib/store/presence.ts";
import { sleep } from "../../lib/util/deadline.ts";

/** Short enough to keep the suite fast, long enough for a loaded machine to refresh in time. */
export const TTL_MS = 300;

/** Opens a fresh presence whose claims live `ttlMs` without a refresh. */
export type Opener = (ttlMs: number) => Promise<Presence>;

async function using(open: Opener, ttlMs: number, run: (p: Presence) => Promise<void>) {
  const presence = await open(ttlMs);
  try {
    await run(presence);
  } finally {
    await presence.close();
  }
}

/**
 * Runs every step of the contract as a step of `t`, each on a fresh
 * presence from `open`, closed afterwards.
 */
export async function presenceContract(t: Deno.TestContext, open: Opener): Promise<void> {
  await t.step("a name is claimed once; its holder may claim it again", async () => {
    await using(open, 60_000, async (p) => {
      assert.equal(await p.claim("alice", "c1"), true);
      assert.equal(await p.claim("alice", "c2"), false);
      assert.equal(await p.claim("alice", "c1"), true);
      assert.deepEqual(await p.list(), ["alice"]);
    });
  });

  await t.step(
    "names are unique regardless of case and width; the list shows them as typed",
    async () => {
      await using(open, 60_000, async (p) => {
        assert.equal(await p.claim("Alice", "c1"), true);
        for (const variant of ["alice", "ALICE", "ａｌｉｃｅ"]) {
          assert.equal(await p.claim(variant, "c2"), false, variant);
        }
        assert.equal(await p.claim("Straße", "c3"), true);
        assert.equal(await p.claim("STRASSE", "c4"), false);
        assert.deepEqual(await p.list(), ["Alice", "Straße"]);
      });
    },
  );

  await t.step("only the holder can release a name", async () => {
    await using(open, 60_000, async (p) => {
      await p.claim("bob", "c1");
      await p.release("bob", "c2");
      await p.release("BOB", "c2");
      assert.equal(await p.claim("bob", "c2"), false, "a wrong owner's release is ignored");
      await p.release("Bob", "c1");
      assert.deepEqual(await p.list(), []);
      assert.equal(await p.claim("bob", "c2"), true);
      await p.release("nobody", "c9");
    });
  });

  await t.step("the list is sorted without regard to case", async () => {
    await using(open, 60_000, async (p) => {
      for (const [i, name] of ["carol", "Bob", "alice", "Dave", "_zed", "ç"].entries()) {
        assert.equal(await p.claim(name, `c${i}`), true, name);
      }
      assert.deepEqual(await p.list(), ["_zed", "alice", "Bob", "carol", "Dave", "ç"]);
    });
  });

  await t.step(
    "a claim that is not refreshed expires after the ttl, freeing the name",
    async () => {
      await using(open, TTL_MS, async (p) => {
        await p.claim("carol", "c1");
        assert.equal(await p.claim("carol", "c2"), false);
        await sleep(TTL_MS + 150);
        assert.deepEqual(await p.list(), [], "an expired claim is not listed");
        assert.equal(await p.claim("carol", "c2"), true);
        assert.deepEqual(await p.list(), ["carol"]);
      });
    },
  );

  await t.step("refreshing keeps a claim alive past its ttl", async () => {
    await using(open, TTL_MS, async (p) => {
      await p.claim("dave", "c1");
      for (let i = 0; i < 6; i++) {
        await sleep(TTL_MS / 3);
        assert.deepEqual(await p.refresh([{ user: "dave", owner: "c1" }]), []);
      }
      assert.equal(await p.claim("dave", "c2"), false, "still held after twice the ttl");
      assert.deepEqual(await p.list(), ["dave"]);
    });
  });

  await t.step(
    "a claim that expired and was taken is reported lost; one nobody took is taken back",
    async () => {
      await using(open, TTL_MS, async (p) => {
        await p.claim("eve", "c1");
        await p.claim("frank", "c1");
        await sleep(TTL_MS + 150);
        assert.equal(await p.claim("EVE", "c2"), true);
        const lost = await p.refresh([
          { user: "eve", owner: "c1" },
          { user: "frank", owner: "c1" },
        ]);
        assert.deepEqual(lost, ["eve"]);
        assert.deepEqual(await p.list(), ["EVE", "frank"]);
        assert.equal(await p.claim("frank", "c3"), false, "frank was taken back by c1");
      });
    },
  );

  await t.step(
    "a claim is taken over with its token's hash, at once; the old owner's refresh reports it lost",
    async () => {
      await using(open, 60_000, async (p) => {
        assert.equal(await p.claim("Grace", "c1", "hash-1"), true);
        assert.equal(await p.claim("grace", "c2"), false, "a plain claim still fails");
        assert.equal(await p.takeOver("GRACE", "c2", "hash-1", "hash-2"), "taken_back");
        assert.deepEqual(await p.refresh([{ user: "Grace", owner: "c1", tokenHash: "hash-1" }]), [
          "Grace",
        ]);
        assert.deepEqual(await p.list(), ["GRACE"], "the new owner's name is listed");
        assert.equal(
          await p.takeOver("grace", "c3", "hash-1", "hash-3"),
          "held",
          "a used token does not work twice",
        );
        assert.equal(await p.takeOver("grace", "c3", "hash-2", "hash-3"), "taken_back");
        await p.release("grace", "c2");
        assert.deepEqual(await p.list(), ["grace"], "the old owner cannot release it any more");
      });
    },
  );

  await t.step("a wrong token, or a claim made without one, is not taken over", async () => {
    await using(open, 60_000, async (p) => {
      await p.claim("heidi", "c1", "hash-1");
      await p.claim("ivan", "c1");
      assert.equal(await p.takeOver("heidi", "c2", "hash-x", "hash-2"), "held");
      assert.equal(await p.takeOver("ivan", "c2", "", "hash-2"), "held");
      assert.equal(await p.takeOver("ivan", "c2", "hash-1", "hash-2"), "held");
      assert.equal(await p.takeOver("judy", "c2", "hash-x", "hash-2"), "claimed", "a free name");
      assert.equal(await p.takeOver("judy", "c2", "hash-y", "hash-3"), "claimed", "its own");
      assert.equal(await p.takeOver("JUDY", "c3", "hash-3", "hash-4"), "taken_back");
    });
  });

  await t.step(
    "a claim that expired and was taken back by its refresh keeps its token",
    async () => {
      await using(open, TTL_MS, async (p) => {
        await p.claim("kim", "c1", "hash-1");
        await sleep(TTL_MS + 150);
        assert.deepEqual(await p.refresh([{ user: "kim", owner: "c1", tokenHash: "hash-1" }]), []);
        assert.equal(await p.takeOver("kim", "c2", "hash-1", "hash-2"), "taken_back");
      });
    },
  );

  await t.step("refreshing nothing is fine", async () => {
    await using(open, TTL_MS, async (p) => {
      assert.deepEqual(await p.refresh([]), []);
    });
  });
}
