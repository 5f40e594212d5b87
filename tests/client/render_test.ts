/**
 * How events look: timestamps, stable user colours, own messages and
 * notices styled apart, no escape sequence without colour, and everything
 * from the network sanitised.
 */

import assert from "node:assert/strict";
import type { ClientEvent } from "../../lib/client/client_event.ts";
import {
  formatTime,
  renderEvent,
  renderStatus,
  useColor,
  userColor,
} from "../../lib/client/render.ts";

const TS = new Date(2025, 5, 1, 7, 4).getTime();
const plain = { color: false };
const color = { color: true };

function message(user: string, text: string, own = false): ClientEvent {
  return { type: "message", own, message: { id: 1, user, text, ts: TS } };
}

Deno.test("messages are HH:MM user: text in local time", () => {
  assert.equal(formatTime(TS), "07:04");
  assert.deepEqual(renderEvent(message("bob", "hi"), plain), {
    text: "07:04 bob: hi",
    channel: "chat",
  });
});

Deno.test("without colour no line holds an escape sequence, whatever the event", () => {
  const events: ClientEvent[] = [
    message("bob", "hi"),
    message("me", "mine", true),
    { type: "legacy", text: "[carol]: old" },
    { type: "join", user: "bob", ts: TS },
    { type: "leave", user: "bob", ts: TS },
    { type: "who", users: ["a", "b"] },
    { type: "notice", code: "shutdown", text: "server shutting down" },
    { type: "server_error", code: "bad_request", text: "bad" },
    { type: "queued", text: "later" },
    { type: "not_sent", text: "lost", reason: "store unavailable" },
    { type: "disconnected", reason: "connection lost", timeoutMs: 120_000 },
    { type: "retrying", attempt: 2, error: "refused", delayMs: 1500 },
    { type: "reconnected", missed: 3 },
    { type: "gave_up", afterMs: 2000 },
    { type: "refused", code: "invalid_name", text: "no" },
  ];
  for (const event of events) {
    const line = renderEvent(event, plain);
    assert.ok(!line.text.includes("\x1b"), JSON.stringify(line));
    assert.ok(line.text.length > 0);
  }
  assert.ok(!renderStatus("hello", "error", plain).text.includes("\x1b"));
});

Deno.test("each user keeps one colour from a palette without red", () => {
  const names = ["alice", "bob", "carol", "dave", "eve", "mallory", "名前", "x"];
  for (const name of names) {
    assert.equal(userColor(name), userColor(name));
    assert.ok(![31, 91].includes(userColor(name)), name);
  }
  assert.ok(new Set(names.map(userColor)).size >= 4, "names spread over the palette");
  const line = renderEvent(message("alice", "hi"), color).text;
  assert.ok(line.includes(`\x1b[${userColor("alice")}malice\x1b[0m`), JSON.stringify(line));
});

Deno.test("own messages are bold, not coloured; notices are dimmed; errors red", () => {
  const own = renderEvent(message("me", "hi", true), color).text;
  assert.ok(own.includes("\x1b[1mme\x1b[0m"), JSON.stringify(own));
  const join = renderEvent({ type: "join", user: "bob", ts: TS }, color).text;
  assert.ok(join.startsWith("\x1b[2m") && join.includes("bob joined"), JSON.stringify(join));
  const error = renderEvent({ type: "not_sent", text: "x", reason: "y" }, color);
  assert.ok(error.text.startsWith("\x1b[31m"));
  assert.equal(error.channel, "status");
});

Deno.test("escape sequences and controls from the network never reach the output", () => {
  const hostile = "\x1b]0;owned\x07\x1b[2J\u202etext\r\n\x9b31m";
  const events: ClientEvent[] = [
    message(hostile, hostile),
    { type: "legacy", text: hostile },
    { type: "join", user: hostile, ts: TS },
    { type: "who", users: [hostile] },
    { type: "notice", code: "x", text: hostile },
    { type: "server_error", code: "x", text: hostile },
    { type: "not_sent", text: hostile, reason: hostile },
    { type: "refused", code: "x", text: hostile },
    { type: "retrying", attempt: 1, error: hostile, delayMs: 1 },
  ];
  for (const event of events) {
    for (const options of [plain, color]) {
      const { text } = renderEvent(event, options);
      // Only this module's own SGR sequences may remain.
      // deno-lint-ignore no-control-regex
      const stripped = text.replace(/\x1b\[[0-9;]*m/g, "");
      // deno-lint-ignore no-control-regex
      assert.ok(!/[\x00-\x08\x0a-\x1f\x7f-\x9f\u202e]/.test(stripped), JSON.stringify(text));
    }
  }
});

Deno.test("colour only on a terminal, and never with NO_COLOR set or TERM=dumb", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(useColor(true, env({ TERM: "xterm-256color" })), true);
  assert.equal(useColor(false, env({ TERM: "xterm-256color" })), false);
  assert.equal(useColor(true, env({ NO_COLOR: "1" })), false);
  assert.equal(useColor(true, env({ NO_COLOR: "" })), true, "empty NO_COLOR does not count");
  assert.equal(useColor(true, env({ TERM: "dumb" })), false);
});

Deno.test("status lines go to the status channel; chat lines to the chat channel", () => {
  assert.equal(renderEvent({ type: "who", users: [] }, plain).channel, "chat");
  assert.equal(renderEvent({ type: "queued", text: "x" }, plain).channel, "status");
  assert.equal(renderEvent({ type: "legacy", text: "[a]: b" }, plain).text, "[a]: b");
});
