/**
 * The client's outbox on its own, without a socket: refs, one message in
 * flight at a time, receipts, errors about a message, the `slow_down`
 * pause, resending after a drop, and what is left unsent at the end.
 */

import assert from "node:assert/strict";
import { Outbox } from "../../lib/client/outbox.ts";

const outbox = () => new Outbox({ refPrefix: "c", slowDownMs: 100 });

Deno.test("each message gets its own ref and they go one at a time, in order", () => {
  const box = outbox();
  box.add("one");
  box.add("two");
  assert.deepEqual(box.next(), { ref: "c:1", text: "one" });
  assert.equal(box.next(), null, "nothing more while one is in flight");
  assert.equal(box.confirm("c:1"), true);
  assert.deepEqual(box.next(), { ref: "c:2", text: "two" });
  assert.equal(box.confirm("c:2"), true);
  assert.equal(box.next(), null);
  assert.equal(box.size, 0);
});

Deno.test("refs from different outboxes differ unless a prefix is given", () => {
  const first = new Outbox({ slowDownMs: 100 });
  const second = new Outbox({ slowDownMs: 100 });
  first.add("hi");
  second.add("hi");
  assert.notEqual(first.next()!.ref, second.next()!.ref);
});

Deno.test("a receipt seen twice, or with a ref not in the outbox, is not confirmed again", () => {
  const box = outbox();
  box.add("one");
  box.next();
  assert.equal(box.confirm("c:1"), true);
  assert.equal(box.confirm("c:1"), false);
  assert.equal(box.confirm("other:1"), false);
});

Deno.test("after a drop the message in flight goes again unless its receipt turns up", () => {
  const box = outbox();
  box.add("one");
  box.add("two");
  box.next();
  box.disconnected();
  assert.deepEqual(box.next(), { ref: "c:1", text: "one" }, "written again, same ref");
  box.disconnected();
  // Resuming: the missed history holds the first message's receipt.
  assert.equal(box.confirm("c:1"), true);
  assert.deepEqual(box.next(), { ref: "c:2", text: "two" });
});

Deno.test("an error with a ref settles that message as not sent", () => {
  const box = outbox();
  box.add("one");
  box.add("two");
  box.next();
  assert.deepEqual(box.settle({ code: "not_sent", ref: "c:1" }), {
    type: "not_sent",
    text: "one",
  });
  assert.deepEqual(box.texts(), ["two"]);
});

Deno.test("an error without a ref is about the message in flight only when its code can be", () => {
  const box = outbox();
  box.add("one");
  assert.deepEqual(box.settle({ code: "line_too_long" }), { type: "unrelated" }, "none in flight");
  box.next();
  assert.deepEqual(box.settle({ code: "store_unavailable" }), { type: "unrelated" });
  assert.deepEqual(box.settle({ code: "bad_request", ref: "c:9" }), { type: "unrelated" });
  assert.deepEqual(box.settle({ code: "line_too_long" }), { type: "not_sent", text: "one" });
  assert.equal(box.size, 0);
});

Deno.test("slow_down keeps the message first, with a pause that doubles up to 8 times and resets on a receipt", () => {
  const box = outbox();
  box.add("one");
  box.add("two");
  const pauses: number[] = [];
  for (let refusal = 0; refusal < 5; refusal++) {
    assert.equal(box.next()?.text, "one");
    const settlement = box.settle({ code: "slow_down" });
    assert.equal(settlement.type, "retry");
    if (settlement.type === "retry") pauses.push(settlement.afterMs);
  }
  assert.deepEqual(pauses, [100, 200, 400, 800, 800]);
  assert.equal(box.next()?.text, "one");
  box.confirm("c:1");
  assert.equal(box.next()?.text, "two");
  assert.deepEqual(box.settle({ code: "slow_down", ref: "c:2" }), { type: "retry", afterMs: 100 });
});

Deno.test("draining at the end returns what got no receipt and empties the outbox", () => {
  const box = outbox();
  box.add("one");
  box.add("two");
  box.next();
  assert.deepEqual(box.texts(), ["one", "two"]);
  assert.deepEqual(box.drain(), ["one", "two"]);
  assert.equal(box.size, 0);
  assert.equal(box.next(), null);
});
