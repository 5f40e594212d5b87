/**
 * Frames and runs of frames: each encoding is made once and shared, and a
 * run's bytes are its frames' bytes in order.
 */

import assert from "node:assert/strict";
import { Frame, FrameRun } from "../../lib/server/frame.ts";
import { textDialect } from "../../lib/protocol/text_dialect.ts";
import { jsonDialect } from "../../lib/protocol/json_dialect.ts";
import type { ChatEvent } from "../../lib/protocol/model.ts";

const decoder = new TextDecoder();

function message(id: number, user: string): ChatEvent {
  return {
    type: "message",
    id,
    user,
    text: `m${id}`,
    ts: 1_700_000_000_000,
    origin: `conn-${user}`,
  };
}

Deno.test("a run's bytes are its frames' lines in order, made once per dialect", () => {
  const frames = [
    Frame.of(message(1, "alice")),
    Frame.of({ type: "join", user: "carol", ts: 1_700_000_000_000, origin: "conn-carol" }),
    Frame.of(message(2, "bob")),
  ];
  const run = new FrameRun(frames);
  assert.equal(
    decoder.decode(run.bytes(textDialect)),
    "[alice]: m1\n* carol joined\n[bob]: m2\n",
  );
  assert.strictEqual(run.bytes(textDialect), run.bytes(textDialect), "the text bytes are cached");
  const json = decoder.decode(run.bytes(jsonDialect)).trimEnd().split("\n").map((line) =>
    JSON.parse(line)
  );
  assert.deepEqual(json.map((event) => event.type), ["message", "join", "message"]);
  assert.strictEqual(run.bytes(jsonDialect), run.bytes(jsonDialect), "the JSON bytes are cached");
});

Deno.test("a run counts its messages and knows whose events it carries", () => {
  const composed = Frame.composed((by) => by.notice("presence", "3 people joined"));
  const run = new FrameRun([Frame.of(message(1, "alice")), composed, Frame.of(message(2, "bob"))]);
  assert.equal(run.messages, 2);
  assert.ok(run.hasOrigin("conn-alice"));
  assert.ok(run.hasOrigin("conn-bob"));
  assert.ok(!run.hasOrigin("conn-carol"));
  assert.ok(!run.hasOrigin(""), "a composed line has no origin");
});
