/**
 * The roster of this replica's name claims, over the in-memory presence
 * registry: claiming, releasing, refreshing, and reporting a lost claim.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../lib/ops/log.ts";
import { LocalPresence } from "../../lib/store/local_presence.ts";
import { Roster } from "../../lib/server/roster.ts";
import { sleep } from "../../lib/util/deadline.ts";

const logger = createLogger("error", () => {});

Deno.test("a name is claimed once, whatever its case, and free again after release", async () => {
  const presence = new LocalPresence();
  const roster = new Roster(presence, { ttlMs: 60_000, logger });
  try {
    assert.equal(await roster.claim("ann", "a", () => {}), true);
    assert.equal(await roster.claim("ANN", "b", () => {}), false);
    assert.deepEqual(await roster.list(), ["ann"]);
    await roster.release("a");
    assert.equal(await roster.claim("Ann", "b", () => {}), true);
  } finally {
    roster.close();
  }
});

Deno.test("refreshing keeps a claim alive past its time to live", async () => {
  const presence = new LocalPresence({ ttlMs: 50 });
  const roster = new Roster(presence, { ttlMs: 60_000, logger });
  try {
    assert.equal(await roster.claim("ann", "a", () => {}), true);
    for (let i = 0; i < 5; i++) {
      await sleep(25);
      await roster.refresh();
    }
    assert.equal(await presence.claim("ann", "b"), false, "still held after 125 ms");
  } finally {
    roster.close();
  }
});

Deno.test("a claim that expired and was taken elsewhere is reported lost to its owner once", async () => {
  const presence = new LocalPresence({ ttlMs: 20 });
  const roster = new Roster(presence, { ttlMs: 60_000, logger });
  const lost: string[] = [];
  try {
    await roster.claim("ann", "a", () => lost.push("a"));
    await roster.claim("bob", "b", () => lost.push("b"));
    await sleep(40);
    assert.equal(await presence.claim("ANN", "elsewhere"), true);
    await roster.refresh();
    assert.deepEqual(lost, ["a"]);
    await roster.release("a");
    await roster.refresh();
    assert.deepEqual(lost, ["a"], "a released claim is not reported again");
    assert.deepEqual(
      await presence.list(),
      ["ANN", "bob"],
      "the release left the new holder alone",
    );
  } finally {
    roster.close();
  }
});

Deno.test("taking a name over with its token ends this replica's old holder at once, and only it", async () => {
  const presence = new LocalPresence();
  const roster = new Roster(presence, { ttlMs: 60_000, logger });
  const lost: string[] = [];
  try {
    assert.equal(await roster.claim("ann", "a", () => lost.push("a"), "hash-a"), true);
    await roster.claim("bob", "b", () => lost.push("b"), "hash-b");
    assert.equal(
      await roster.takeOver("ANN", "c", () => lost.push("c"), "wrong", "hash-c"),
      "held",
    );
    assert.equal(lost.length, 0, "a wrong token takes nothing");
    assert.equal(
      await roster.takeOver("ANN", "c", () => lost.push("c"), "hash-a", "hash-c"),
      "taken_back",
    );
    assert.deepEqual(lost, ["a"]);
    await roster.release("a");
    await roster.refresh();
    assert.deepEqual(lost, ["a"], "the new holder keeps it");
    assert.deepEqual(await roster.list(), ["ANN", "bob"]);
  } finally {
    roster.close();
  }
});
