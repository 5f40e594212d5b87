/**
 * The error codes and the text refusals sent before the hello: one list,
 * the one `docs/protocol.md` documents, read back into codes by the client.
 */

import assert from "node:assert/strict";
import {
  ERROR_CODES,
  handshakeTimeoutRefusal,
  isPermanentRefusal,
  SERVER_FULL_REFUSAL,
  textRefusalCode,
  TOO_MANY_CONNECTIONS_REFUSAL,
} from "../../lib/protocol/errors.ts";

const protocolDoc = await Deno.readTextFile(new URL("../../docs/protocol.md", import.meta.url));

Deno.test("the error codes are those docs/protocol.md lists for JSON mode, in its order, and unknown_command", () => {
  const errors = protocolDoc.slice(protocolDoc.indexOf("### Errors"));
  const documented = [...errors.matchAll(/^\| `([a-z_]+)` +\| (?:yes|no)/gm)]
    .map((match) => match[1]);
  // JSON mode has no commands, so only text mode answers unknown_command.
  assert.deepEqual(documented, ERROR_CODES.filter((code) => code !== "unknown_command"));
});

Deno.test("each text refusal reads back as its own code", () => {
  assert.equal(textRefusalCode(SERVER_FULL_REFUSAL), "server_full");
  assert.equal(textRefusalCode(TOO_MANY_CONNECTIONS_REFUSAL), "too_many_connections");
  assert.equal(textRefusalCode(handshakeTimeoutRefusal(10_000)), "handshake_timeout");
  assert.equal(textRefusalCode(handshakeTimeoutRefusal(2_500)), "handshake_timeout");
});

Deno.test("the handshake timeout refusal names the timeout in seconds", () => {
  assert.equal(handshakeTimeoutRefusal(10_000), "no name received within 10 s");
  assert.equal(handshakeTimeoutRefusal(500), "no name received within 0.5 s");
});

Deno.test("the text refusals are the ones docs/protocol.md quotes", () => {
  for (const text of [SERVER_FULL_REFUSAL, TOO_MANY_CONNECTIONS_REFUSAL]) {
    assert.ok(protocolDoc.includes(`\`! ${text}\``), text);
  }
  assert.ok(protocolDoc.includes("`! no name received within <n> s`"));
});

Deno.test("a text error that is no known refusal has no code", () => {
  assert.equal(textRefusalCode("something new"), undefined);
  assert.equal(textRefusalCode(""), undefined);
});

Deno.test("only a wrong hello or password is a permanent refusal; a taken name, a full server or throttling may pass later", () => {
  assert.deepEqual(ERROR_CODES.filter(isPermanentRefusal), [
    "bad_hello",
    "invalid_name",
    "auth_required",
    "auth_failed",
  ]);
  assert.equal(isPermanentRefusal("refused"), false, "an unknown text refusal");
});
