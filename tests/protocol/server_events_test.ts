/**
 * The client's reading of server lines: every field is checked because it
 * comes from the network, unknown lines are ignored, and the text-mode
 * refusals a server sends before it knows the protocol become fatal errors.
 */

import assert from "node:assert/strict";
import { parseServerEvent } from "../../lib/protocol/server_events.ts";

Deno.test("a well-formed message event is read with its ref", () => {
  assert.deepEqual(
    parseServerEvent('{"type":"message","id":4,"user":"ann","text":"hi","ts":5,"ref":"r1"}'),
    { type: "message", id: 4, user: "ann", text: "hi", ts: 5, ref: "r1" },
  );
});

Deno.test("a message event keeps only the message's fields", () => {
  assert.deepEqual(
    parseServerEvent('{"type":"message","id":4,"user":"ann","text":"hi","ts":5,"ref":3,"x":1}'),
    { type: "message", id: 4, user: "ann", text: "hi", ts: 5 },
  );
});

Deno.test("history_end is read with its resume point, and without one from older servers", () => {
  assert.deepEqual(parseServerEvent('{"type":"history_end","id":9,"epoch":"e1","token":"t1"}'), {
    type: "history_end",
    id: 9,
    epoch: "e1",
    token: "t1",
  });
  assert.deepEqual(parseServerEvent('{"type":"history_end","id":9,"epoch":7,"token":null}'), {
    type: "history_end",
    id: 9,
  });
});

Deno.test("malformed or unknown lines are ignored, not errors", () => {
  for (
    const line of [
      "",
      "not json",
      "[]",
      '{"type":"message","id":"4","user":"ann","text":"hi","ts":5}',
      '{"type":"message","id":4,"user":1,"text":"hi","ts":5}',
      '{"type":"message","id":-4,"user":"ann","text":"hi","ts":5}',
      '{"type":"history_end","id":-1}',
      '{"type":"history_end"}',
      '{"type":"future_event"}',
    ]
  ) {
    assert.equal(parseServerEvent(line), null, line);
  }
});

Deno.test("a text refusal line before the hello is answered becomes a fatal error with its code", () => {
  assert.deepEqual(parseServerEvent("! server full; try again later"), {
    type: "error",
    code: "server_full",
    text: "server full; try again later",
    fatal: true,
  });
  assert.equal(
    parseServerEvent("! too many connections from your address; try again later")?.type,
    "error",
  );
  const other = parseServerEvent("! something new");
  assert.equal(other?.type === "error" && other.code, "refused");
});
