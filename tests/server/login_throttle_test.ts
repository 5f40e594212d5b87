/**
 * The login throttle, on an injected clock: failures are limited per
 * address and per name, every limit refills, and nobody elsewhere can lock
 * an owner out of a name it logged in to before.
 */

import assert from "node:assert/strict";
import { LoginThrottle } from "../../lib/server/login_throttle.ts";

function throttle() {
  let now = 0;
  const limits = new LoginThrottle({
    addressBurst: 3,
    addressIntervalS: 10,
    nameBurst: 5,
    nameIntervalS: 20,
    now: () => now,
  });
  return { limits, advance: (ms: number) => now += ms };
}

Deno.test("an address that keeps failing is held back, for every name, and is let in again as its limit refills", () => {
  const { limits, advance } = throttle();
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(limits.check("alice", "10.0.0.1"), { allowed: true });
    limits.failed("alice", "10.0.0.1");
  }
  assert.deepEqual(limits.check("alice", "10.0.0.1"), { allowed: false, retryAfterMs: 10_000 });
  assert.equal(limits.check("bob", "10.0.0.1").allowed, false, "other names too");
  assert.equal(limits.check("bob", "10.0.0.2").allowed, true, "other addresses are not held");
  advance(9_999);
  assert.equal(limits.check("alice", "10.0.0.1").allowed, false);
  advance(1);
  assert.equal(limits.check("alice", "10.0.0.1").allowed, true);
});

Deno.test("an IPv6 client counts as its /64", () => {
  const { limits } = throttle();
  for (let i = 0; i < 3; i++) limits.failed("alice", `2001:db8::${i + 1}`);
  assert.equal(limits.check("bob", "2001:db8::ffff").allowed, false);
  assert.equal(limits.check("bob", "2001:db8:0:1::1").allowed, true);
});

Deno.test("failures from many addresses hold a name back, but not for an address that logged in to it before", () => {
  const { limits, advance } = throttle();
  limits.succeeded("alice", "192.0.2.1");
  for (let i = 0; i < 5; i++) limits.failed("alice", `198.51.100.${i}`);
  assert.deepEqual(limits.check("alice", "203.0.113.9"), { allowed: false, retryAfterMs: 20_000 });
  assert.equal(limits.check("alice", "192.0.2.1").allowed, true, "the owner's known address");
  assert.equal(limits.check("bob", "203.0.113.9").allowed, true, "other names are not held");
  advance(20_000);
  assert.equal(limits.check("alice", "203.0.113.9").allowed, true, "the lock-out ends on its own");
});

Deno.test("limits that refilled are forgotten, so memory follows recent failures only", () => {
  const { limits, advance } = throttle();
  for (let i = 0; i < 50; i++) limits.failed(`name${i}`, `10.0.${i}.1`);
  assert.equal(limits.size, 100);
  advance(3_600_000);
  for (let i = 0; i < 50; i++) limits.check(`name${i}`, `10.0.${i}.1`);
  assert.equal(limits.size, 0);
});
