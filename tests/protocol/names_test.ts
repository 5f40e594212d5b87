/** The user name rule the server and the client share. */

import assert from "node:assert/strict";
import { MAX_NAME_LENGTH, nameProblem } from "../../lib/protocol/names.ts";

Deno.test("an empty name is refused with a reason", () => {
  const problem = nameProblem("");
  assert.equal(typeof problem, "string");
  assert.ok(problem!.length > 0);
});

Deno.test("names are limited to MAX_NAME_LENGTH characters, counted as characters not UTF-16 units", () => {
  assert.equal(MAX_NAME_LENGTH, 32);
  assert.equal(nameProblem("a".repeat(32)), null);
  assert.match(nameProblem("a".repeat(33)) ?? "", /32/);
  assert.equal(nameProblem("李".repeat(32)), null);
  assert.equal(typeof nameProblem("李".repeat(33)), "string");
  // U+20000 (CJK Extension B) is one letter but two UTF-16 units.
  const astral = "\u{20000}";
  assert.equal(astral.length, 2);
  assert.equal(nameProblem(astral.repeat(32)), null);
  assert.equal(typeof nameProblem(astral.repeat(33)), "string");
});

Deno.test("names with spaces, a leading brace or punctuation are refused with a reason", () => {
  for (
    const name of [
      "alice smith",
      " alice",
      "alice\t",
      "{alice",
      '{"type":"hello"}',
      "al!ce",
      "a@b",
      "[alice]",
      "a:b",
      "a/b",
      "a,b",
      "*",
      "a\u200bb",
    ]
  ) {
    const problem = nameProblem(name);
    assert.equal(typeof problem, "string", `${JSON.stringify(name)} should be refused`);
    assert.ok(problem!.length > 0);
  }
});

Deno.test("ordinary names in several scripts are accepted", () => {
  for (const name of ["alice", "bob_2", "Zoë", "李雷", "a.b-c", "Ωmega", "user123", "X"]) {
    assert.equal(nameProblem(name), null, name);
  }
});

Deno.test("names whose letters carry combining marks are accepted (decomposed Zoë, Devanagari, Thai)", () => {
  // Zoë as typed on systems that send decomposed text, and scripts whose
  // letters need vowel signs (Unicode category M) to be written at all.
  const names = ["Zoe\u0308", "राम", "สมศักดิ์"];
  const refused = names.filter((name) => nameProblem(name) !== null);
  assert.deepEqual(refused, [], "these names should be accepted");
});
