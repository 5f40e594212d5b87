/**
 * The per-address connection limit: counting, IPv4 and IPv6 grouping, and
 * trusted networks.
 */

import assert from "node:assert/strict";
import { ConnectionLimiter } from "../../lib/server/connection_limiter.ts";
import { DEFAULT_TRUSTED, parseNetworks } from "../../lib/util/cidr.ts";

Deno.test("the limiter refuses an address at its limit and accepts again after a release", () => {
  const limiter = new ConnectionLimiter({ perIp: 2, trusted: [] });
  assert.equal(limiter.acquire("203.0.113.5"), true);
  assert.equal(limiter.acquire("203.0.113.5"), true);
  assert.equal(limiter.acquire("203.0.113.5"), false);
  assert.equal(limiter.count("203.0.113.5"), 2, "a refusal is not counted");
  assert.equal(limiter.acquire("203.0.113.6"), true, "other addresses are unaffected");
  limiter.release("203.0.113.5");
  assert.equal(limiter.count("203.0.113.5"), 1);
  assert.equal(limiter.acquire("203.0.113.5"), true);
});

Deno.test("the limiter counts an IPv4 client the same over IPv4 and IPv4-mapped IPv6", () => {
  const limiter = new ConnectionLimiter({ perIp: 2, trusted: [] });
  assert.equal(limiter.acquire("198.51.100.7"), true);
  assert.equal(limiter.acquire("::ffff:198.51.100.7"), true);
  assert.equal(limiter.acquire("198.51.100.7"), false);
  assert.equal(limiter.count("::ffff:c633:6407"), 2);
});

Deno.test("the limiter counts a whole IPv6 /64 as one address by default, or any prefix asked for", () => {
  const limiter = new ConnectionLimiter({ perIp: 2, trusted: [] });
  assert.equal(limiter.acquire("2001:db8:1:2::1"), true);
  assert.equal(limiter.acquire("2001:db8:1:2:ffff::9"), true);
  assert.equal(limiter.acquire("2001:db8:1:2::3"), false, "same /64");
  assert.equal(limiter.acquire("2001:db8:1:3::1"), true, "another /64");

  const perHost = new ConnectionLimiter({ perIp: 1, trusted: [], ipv6Prefix: 128 });
  assert.equal(perHost.acquire("2001:db8::1"), true);
  assert.equal(perHost.acquire("2001:db8::2"), true);
  assert.equal(perHost.acquire("2001:db8::1"), false);
});

Deno.test("trusted addresses are never refused and never counted", () => {
  const limiter = new ConnectionLimiter({
    perIp: 1,
    trusted: parseNetworks(`${DEFAULT_TRUSTED},10.0.0.0/8`),
  });
  for (let i = 0; i < 100; i++) {
    assert.equal(limiter.acquire("127.0.0.1"), true);
    assert.equal(limiter.acquire("::1"), true);
    assert.equal(limiter.acquire("::ffff:10.9.8.7"), true);
  }
  assert.equal(limiter.count("127.0.0.1"), 0);
  assert.equal(limiter.size, 0);
  limiter.release("127.0.0.1");
  assert.equal(limiter.acquire("192.0.2.1"), true);
  assert.equal(limiter.acquire("192.0.2.1"), false, "untrusted addresses are still limited");
});

Deno.test("the limiter forgets an address once its last connection closes", () => {
  const limiter = new ConnectionLimiter({ perIp: 3, trusted: [] });
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 1_000; i++) {
      const address = `2001:db8:${i.toString(16)}::1`;
      assert.ok(limiter.acquire(address));
      assert.ok(limiter.acquire(`198.51.${i >> 8}.${i & 255}`));
    }
    assert.equal(limiter.size, 2_000);
    for (let i = 0; i < 1_000; i++) {
      limiter.release(`2001:db8:${i.toString(16)}::1`);
      limiter.release(`198.51.${i >> 8}.${i & 255}`);
    }
    assert.equal(limiter.size, 0, `round ${round}: no entry left behind`);
  }
  limiter.release("198.51.100.1");
  assert.equal(limiter.size, 0, "releasing an unknown address creates nothing");
  assert.equal(limiter.count("198.51.100.1"), 0);
});

Deno.test("something that is not an IP address is limited by its text", () => {
  const limiter = new ConnectionLimiter({ perIp: 1, trusted: parseNetworks("0.0.0.0/0,::/0") });
  assert.equal(limiter.acquire("/tmp/chat.sock"), true);
  assert.equal(limiter.acquire("/tmp/chat.sock"), false);
  limiter.release("/tmp/chat.sock");
  assert.equal(limiter.size, 0);
});

Deno.test("limiter options out of range are refused", () => {
  for (const perIp of [0, -1, 1.5, NaN]) {
    assert.throws(() => new ConnectionLimiter({ perIp, trusted: [] }), {
      name: "RangeError",
      message: /perIp must be a whole number of at least 1/,
    });
  }
  assert.throws(() => new ConnectionLimiter({ perIp: 1, trusted: [], ipv6Prefix: 0 }), {
    name: "RangeError",
    message: /ipv6Prefix/,
  });
});
