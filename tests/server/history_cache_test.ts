/**
 * The history cache: what it answers for fresh joins and resumes, when it
 * declines (then the store is read), and that it starts over rather than
 * serve a history with a hole in it.
 */

import assert from "node:assert/strict";
import { HistoryCache } from "../../lib/server/history_cache.ts";
import { textDialect } from "../../lib/protocol/text_dialect.ts";
import { jsonDialect } from "../../lib/protocol/json_dialect.ts";
import type { ChatEvent, HistoryEntry } from "../../lib/protocol/model.ts";

const decoder = new TextDecoder();

function message(id: number): ChatEvent {
  return { type: "message", origin: "r/1", id, user: "ann", text: `m${id}`, ts: 1000 + id };
}

function entry(id: number): HistoryEntry {
  return { type: "message", id, user: "ann", text: `m${id}`, ts: 1000 + id };
}

function lines(history: { bytes: Uint8Array } | null): string[] {
  assert.ok(history, "the cache covers this join");
  return decoder.decode(history.bytes).split("\n").slice(0, -1);
}

Deno.test("a fresh join gets the newest entries and the history end as one block, primed and then fed", () => {
  const cache = new HistoryCache({ maxEntries: 3, dialects: [textDialect] });
  cache.prime({ entries: [{ type: "legacy", line: "[old]: hi" }, entry(1)], lastId: 1 });
  assert.deepEqual(lines(cache.read(textDialect, 3)), ["[old]: hi", "[ann]: m1", "HISTORY_END"]);
  cache.record(message(2));
  cache.record({ type: "join", user: "bob", ts: 5, origin: "r/2" });
  cache.record(message(3));
  assert.deepEqual(lines(cache.read(textDialect, 3)), [
    "[ann]: m1",
    "[ann]: m2",
    "[ann]: m3",
    "HISTORY_END",
  ]);
  assert.equal(cache.read(textDialect, 2)?.lastId, 3);
  const json = lines(cache.read(jsonDialect, 1)).map((line) => JSON.parse(line));
  assert.deepEqual(json.map((line) => [line.type, line.id]), [["message", 3], ["history_end", 3]]);
});

Deno.test("the answer to a fresh join is reused until a message arrives", () => {
  const cache = new HistoryCache({ maxEntries: 10 });
  cache.prime({ entries: [entry(1), entry(2)], lastId: 2 });
  const first = cache.read(textDialect, 10);
  assert.equal(cache.read(textDialect, 10), first);
  cache.record(message(3));
  assert.notEqual(cache.read(textDialect, 10), first);
});

Deno.test("a resume gets only the messages after its id, and is declined when the cache does not reach back that far", () => {
  const cache = new HistoryCache({ maxEntries: 3 });
  cache.prime({ entries: [entry(1), entry(2), entry(3)], lastId: 3 });
  cache.record(message(4));
  cache.record(message(5));
  assert.deepEqual(lines(cache.read(textDialect, 1000, 3)), [
    "[ann]: m4",
    "[ann]: m5",
    "HISTORY_END",
  ]);
  assert.deepEqual(lines(cache.read(textDialect, 1000, 2)), [
    "[ann]: m3",
    "[ann]: m4",
    "[ann]: m5",
    "HISTORY_END",
  ]);
  assert.equal(cache.read(textDialect, 1000, 1), null, "message 2 is no longer held");
  assert.deepEqual(lines(cache.read(textDialect, 1000, 5)), ["HISTORY_END"]);
});

Deno.test("a cache holding the whole store answers any join, even one asking for more than there is", () => {
  const cache = new HistoryCache({ maxEntries: 100 });
  cache.prime({ entries: [{ type: "legacy", line: "[old]: hi" }, entry(7)], lastId: 7 });
  assert.deepEqual(lines(cache.read(textDialect, 100)), ["[old]: hi", "[ann]: m7", "HISTORY_END"]);
  assert.deepEqual(lines(cache.read(textDialect, 1000, 0)), ["[ann]: m7", "HISTORY_END"]);
});

Deno.test("messages recorded before priming are added after the snapshot, except those it holds", () => {
  const cache = new HistoryCache({ maxEntries: 10 });
  cache.record(message(2));
  cache.record(message(3));
  assert.equal(cache.read(textDialect, 10), null, "nothing is answered before priming");
  cache.prime({ entries: [entry(1), entry(2)], lastId: 2 });
  assert.deepEqual(lines(cache.read(textDialect, 10)), [
    "[ann]: m1",
    "[ann]: m2",
    "[ann]: m3",
    "HISTORY_END",
  ]);
});

Deno.test("skipped ids make the cache start over: it covers only what it saw since", () => {
  const cache = new HistoryCache({ maxEntries: 3 });
  cache.prime({ entries: [entry(1), entry(2)], lastId: 2 });
  cache.record(message(5));
  assert.equal(cache.read(textDialect, 3), null, "ids 3 and 4 were never seen");
  assert.equal(cache.read(textDialect, 1000, 2), null);
  assert.deepEqual(lines(cache.read(textDialect, 1000, 4)), ["[ann]: m5", "HISTORY_END"]);
  cache.record(message(6));
  cache.record(message(7));
  assert.deepEqual(lines(cache.read(textDialect, 3)).length, 4);
});

Deno.test("a cache whose priming failed starts with the next message", () => {
  const cache = new HistoryCache({ maxEntries: 2 });
  cache.record(message(8));
  cache.primeFailed();
  assert.equal(cache.read(textDialect, 1), null);
  cache.record(message(9));
  cache.record(message(10));
  assert.deepEqual(lines(cache.read(textDialect, 2)), ["[ann]: m9", "[ann]: m10", "HISTORY_END"]);
});

Deno.test("past its byte limit the cache drops its oldest entries and no longer claims to hold everything", () => {
  const cache = new HistoryCache({ maxEntries: 100, maxBytes: 200 });
  cache.prime({ entries: [], lastId: 0 });
  for (let id = 1; id <= 5; id++) cache.record(message(id));
  assert.equal(cache.size, 2);
  assert.equal(cache.read(textDialect, 100), null);
  assert.equal(lines(cache.read(textDialect, cache.size)).at(-2), "[ann]: m5");
});
