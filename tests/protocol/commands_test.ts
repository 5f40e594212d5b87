/**
 * The one command table: what a typed line means, for the client and for
 * the server's text mode alike, and the help text derived from it.
 */

import assert from "node:assert/strict";
import {
  COMMAND_HELP,
  COMMAND_USAGE,
  COMMANDS,
  isAccountLine,
  parseInput,
  unknownCommandText,
} from "../../lib/protocol/commands.ts";
import { HELP, parseTextRequest } from "../../lib/protocol/text_dialect.ts";

Deno.test("every word of every command means that command, also with spaces around it", () => {
  for (const command of COMMANDS.filter((command) => !command.passwords)) {
    for (const word of command.words) {
      assert.deepEqual(parseInput(word), { type: command.type }, word);
      assert.deepEqual(parseInput(`  ${word}\t`), { type: command.type }, word);
    }
  }
  assert.deepEqual(parseInput("exit"), { type: "quit" });
  assert.deepEqual(parseInput("/quit"), { type: "quit" });
});

Deno.test("an account command carries the passwords typed after it, however many were left out", () => {
  assert.deepEqual(parseInput("/register  s3cret-pw "), {
    type: "account",
    action: "register",
    passwords: ["s3cret-pw"],
  });
  assert.deepEqual(parseInput("/login"), { type: "account", action: "login", passwords: [] });
  assert.deepEqual(parseInput("/passwd old-one new-one"), {
    type: "account",
    action: "passwd",
    passwords: ["old-one", "new-one"],
  });
  assert.deepEqual(parseInput("/unregister a b"), {
    type: "usage",
    usage: "usage: /unregister PASSWORD",
  });
});

Deno.test("lines of account commands are recognised so that the client never keeps them", () => {
  for (const line of ["/login pw", "/register", " /passwd a b", "/passwd a b c", "/unregister x"]) {
    assert.ok(isAccountLine(line), line);
  }
  for (const line of ["hello", "/who", "//login pw", "/loginx pw", "/help"]) {
    assert.ok(!isAccountLine(line), line);
  }
});

Deno.test("the server's text mode turns account commands into requests, and a missing password into its usage", () => {
  assert.deepEqual(parseTextRequest("/login pw12345678"), {
    type: "account",
    action: "login",
    password: "pw12345678",
  });
  assert.deepEqual(parseTextRequest("/passwd a b"), {
    type: "account",
    action: "passwd",
    password: "a",
    newPassword: "b",
  });
  assert.deepEqual(parseTextRequest("/passwd a"), {
    type: "invalid",
    error: { code: "bad_request", text: "usage: /passwd OLD NEW" },
  });
});

Deno.test("a doubled slash sends the text with one slash", () => {
  assert.deepEqual(parseInput("//etc/passwd"), { type: "message", text: "/etc/passwd" });
  assert.deepEqual(parseInput("//who"), { type: "message", text: "/who" });
});

Deno.test("any other line starting with / is an unknown command named by its first word", () => {
  assert.deepEqual(parseInput("/nope now"), { type: "unknown", command: "/nope" });
  assert.deepEqual(parseInput("/who am i"), { type: "unknown", command: "/who" });
  assert.equal(
    unknownCommandText("/nope"),
    "unknown command /nope; /help lists them, // sends a leading /",
  );
});

Deno.test("a blank line is empty and anything else is a message, trimmed", () => {
  assert.deepEqual(parseInput(" \t "), { type: "empty" });
  assert.deepEqual(parseInput("  hello  "), { type: "message", text: "hello" });
  assert.deepEqual(parseInput("exit now"), { type: "message", text: "exit now" });
});

Deno.test("names of object properties are messages, not commands", () => {
  for (const text of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    assert.deepEqual(parseInput(text), { type: "message", text }, text);
    assert.deepEqual(parseTextRequest(text), { type: "message", text }, text);
  }
});

Deno.test("the help lists every command word and the escape, descriptions in one column", () => {
  for (const command of COMMANDS) {
    const line = COMMAND_USAGE.find((usage) => usage.startsWith(command.words[0]));
    assert.ok(line, command.words[0]);
    for (const word of command.words) assert.ok(line.includes(word), word);
    assert.ok(line.endsWith(command.does), line);
  }
  assert.ok(COMMAND_USAGE.some((line) => line.startsWith("//text")));
  const column = COMMAND_USAGE[0].length - COMMANDS[0].does.length;
  for (const [index, command] of COMMANDS.entries()) {
    assert.equal(COMMAND_USAGE[index].indexOf(command.does), column, command.does);
  }
});

Deno.test("the server's text mode reads lines with the same table and answers /help with its help", () => {
  assert.deepEqual(parseTextRequest("/who"), { type: "who" });
  assert.deepEqual(parseTextRequest("exit"), { type: "quit" });
  assert.deepEqual(parseTextRequest("//x"), { type: "message", text: "/x" });
  assert.equal(parseTextRequest("   "), null);
  assert.deepEqual(parseTextRequest("/nope x"), {
    type: "invalid",
    error: { code: "unknown_command", text: unknownCommandText("/nope") },
  });
  assert.deepEqual(HELP, COMMAND_HELP.map((line) => `* ${line}`));
});

Deno.test("the server's text mode cleans control characters before reading a command", () => {
  assert.deepEqual(parseTextRequest("/w\x1bho"), { type: "who" });
});
