/**
 * Password hashing: scrypt records that verify only their own password,
 * carry their parameters and salt, and are computed without stalling the
 * event loop for everyone else.
 */

import assert from "node:assert/strict";
import { hashPassword, passwordProblem, verifyPassword } from "../../lib/server/passwords.ts";

Deno.test("a record verifies its own password and no other", async () => {
  const record = await hashPassword("correct horse battery");
  assert.equal(await verifyPassword("correct horse battery", record), true);
  assert.equal(await verifyPassword("correct horse batterY", record), false);
  assert.equal(await verifyPassword("", record), false);
});

Deno.test("each record has its own random salt and keeps the parameters it was made with", async () => {
  const parameters = { N: 1024, r: 8, p: 1 };
  const [a, b] = await Promise.all([
    hashPassword("same password", parameters),
    hashPassword("same password", parameters),
  ]);
  assert.notEqual(a.salt, b.salt);
  assert.notEqual(a.hash, b.hash);
  assert.deepEqual({ alg: a.alg, N: a.N, r: a.r, p: a.p }, { alg: "scrypt", N: 1024, r: 8, p: 1 });
  // Raising the defaults later must not invalidate this record.
  assert.equal(await verifyPassword("same password", a), true);
  assert.ok(!JSON.stringify(a).includes("same password"));
});

Deno.test("a record whose cost this server would not compute never matches", async () => {
  const record = await hashPassword("a password", { N: 1024, r: 8, p: 1 });
  assert.equal(await verifyPassword("a password", { ...record, N: 1 << 24 }), false);
});

Deno.test("a password needs 8 characters, at most 256 bytes and no spaces; the reason never quotes it", () => {
  assert.equal(passwordProblem("12345678"), null);
  for (const bad of ["short", "has a space", "x".repeat(257)]) {
    const problem = passwordProblem(bad);
    assert.ok(problem, bad);
    assert.ok(!problem.includes(bad), problem);
  }
});

Deno.test("hashing leaves the event loop free: the longest stall is far below the hashing time", async () => {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  const started = performance.now();
  // The default parameters, as production uses them.
  await Promise.all([1, 2, 3, 4].map((n) => hashPassword(`password ${n}`)));
  const took = performance.now() - started;
  clearInterval(timer);
  console.log(`4 hashes: ${took.toFixed(0)} ms; longest event-loop stall ${longest.toFixed(1)} ms`);
  // scryptSync would stall the loop for the whole time of at least one hash.
  assert.ok(longest < took / 4, `stall ${longest} ms against ${took} ms of hashing`);
});
