/**
 * The one check of a chat message decoded from JSON, and the reading of a
 * stored history entry that goes through it: ours, or the old service's
 * plain line replayed as it is.
 */

import assert from "node:assert/strict";
import { isMessageId, parseEntry, toChatMessage } from "../../lib/protocol/model.ts";

const valid = { id: 4, user: "ann", text: "hi", ts: 1_700_000_000_000 };

Deno.test("a message with every field of the right type is read, with its ref", () => {
  assert.deepEqual(toChatMessage(valid), valid);
  assert.deepEqual(toChatMessage({ ...valid, ref: "r1" }), { ...valid, ref: "r1" });
  assert.deepEqual(toChatMessage({ ...valid, id: 0, user: "", text: "" }), {
    ...valid,
    id: 0,
    user: "",
    text: "",
  });
});

Deno.test("fields the message does not have are dropped, and a ref that is not a string is left out", () => {
  assert.deepEqual(toChatMessage({ ...valid, type: "message", origin: "o", extra: [1] }), valid);
  assert.deepEqual(toChatMessage({ ...valid, ref: 7 }), valid);
  assert.deepEqual(toChatMessage({ ...valid, ref: null }), valid);
});

Deno.test("a value that is not an object, or lacks a field, or has one of the wrong type, is no message", () => {
  const wrong: unknown[] = [
    null,
    undefined,
    "text",
    42,
    [],
    {},
    { ...valid, id: undefined },
    { ...valid, id: "4" },
    { ...valid, id: -1 },
    { ...valid, id: 1.5 },
    { ...valid, id: 2 ** 53 },
    { ...valid, id: NaN },
    { ...valid, user: undefined },
    { ...valid, user: 1 },
    { ...valid, text: null },
    { ...valid, ts: "5" },
    { ...valid, ts: Infinity },
    { ...valid, ts: NaN },
  ];
  for (const value of wrong) assert.equal(toChatMessage(value), null, Deno.inspect(value));
});

Deno.test("a message id is a safe integer, 0 or above", () => {
  for (const id of [0, 1, Number.MAX_SAFE_INTEGER]) assert.ok(isMessageId(id), String(id));
  for (const id of [-1, 0.5, Number.MAX_SAFE_INTEGER + 1, "1", null, NaN]) {
    assert.ok(!isMessageId(id), String(id));
  }
});

Deno.test("a stored JSON entry is read as a message", () => {
  assert.deepEqual(parseEntry(JSON.stringify({ ...valid, ref: "r1" })), {
    type: "message",
    ...valid,
    ref: "r1",
  });
});

Deno.test("any other stored string, including JSON that is not a message, is replayed as a legacy line", () => {
  for (
    const raw of [
      "[alice]: hi from python",
      "",
      "{not json",
      '{"id":"4","user":"ann","text":"hi","ts":5}',
      '{"id":-3,"user":"ann","text":"hi","ts":5}',
      " " + JSON.stringify(valid),
    ]
  ) {
    assert.deepEqual(parseEntry(raw), { type: "legacy", line: raw }, raw);
  }
});
