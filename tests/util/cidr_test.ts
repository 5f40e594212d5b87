/**
 * Trusted-network lists (parsing, errors naming the bad entry, IPv4, IPv6
 * and IPv4-mapped addresses) and address grouping.
 */

import assert from "node:assert/strict";
import {
  addressGroup,
  contains,
  DEFAULT_TRUSTED,
  NetworkListError,
  parseAddress,
  parseNetworks,
} from "../../lib/util/cidr.ts";

Deno.test("the default list trusts IPv4 and IPv6 loopback only", () => {
  const trusted = parseNetworks(DEFAULT_TRUSTED);
  for (const address of ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"]) {
    assert.ok(contains(trusted, address), address);
  }
  for (const address of ["10.0.0.1", "128.0.0.1", "::2", "2001:db8::1", "::ffff:10.0.0.1"]) {
    assert.ok(!contains(trusted, address), address);
  }
});

Deno.test("IPv4 networks match plain and IPv4-mapped IPv6 addresses alike", () => {
  const networks = parseNetworks("10.0.0.0/8, 192.168.1.0/24,172.16.0.0/12");
  for (
    const address of [
      "10.1.2.3",
      "::ffff:10.1.2.3",
      "::FFFF:a01:203",
      "0:0:0:0:0:ffff:192.168.1.77",
      "172.31.255.255",
    ]
  ) {
    assert.ok(contains(networks, address), address);
  }
  for (const address of ["11.0.0.1", "192.168.2.1", "172.32.0.1", "::10.1.2.3", "::a01:203"]) {
    assert.ok(!contains(networks, address), address);
  }
});

Deno.test("IPv6 networks, written any valid way, match by prefix", () => {
  const networks = parseNetworks("2001:db8::/32,fd00::/8,fe80::1");
  for (
    const address of [
      "2001:db8::1",
      "2001:DB8:ffff:0:0:0:0:1",
      "2001:0db8:0000::",
      "fdab:1234::9",
      "fe80::1",
      "fe80::1%eth0",
    ]
  ) {
    assert.ok(contains(networks, address), address);
  }
  for (const address of ["2001:db9::1", "fe80::2", "fc00::1", "10.0.0.1", "::"]) {
    assert.ok(!contains(networks, address), address);
  }
});

Deno.test("a bare address is a single host; /0 is everything of its family", () => {
  assert.deepEqual(parseNetworks("10.0.0.7").map((n) => n.prefix), [128]);
  assert.deepEqual(parseNetworks("::1").map((n) => n.prefix), [128]);
  const anyV4 = parseNetworks("0.0.0.0/0");
  assert.ok(contains(anyV4, "203.0.113.9"));
  assert.ok(!contains(anyV4, "2001:db8::1"), "0.0.0.0/0 is every IPv4 address, no IPv6 one");
  assert.ok(contains(parseNetworks("::/0"), "2001:db8::1"));
});

Deno.test("the word none is the empty list", () => {
  assert.deepEqual(parseNetworks("none"), []);
  assert.deepEqual(parseNetworks(" None "), []);
  assert.ok(!contains(parseNetworks("none"), "127.0.0.1"));
});

Deno.test("a bad entry is refused with an error naming it", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["10.0.0.0/8,10.0.0.300/8", "10.0.0.300/8", /"10\.0\.0\.300" is not an IPv4 or IPv6 address/],
    ["localhost", "localhost", /"localhost" is not a network/],
    ["10.0.0.0/33", "10.0.0.0/33", /prefix length must be 0 to 32/],
    ["2001:db8::/129", "2001:db8::/129", /prefix length must be 0 to 128/],
    ["10.0.0.0/", "10.0.0.0/", /prefix length/],
    ["10.0.0.0/8x", "10.0.0.0/8x", /prefix length/],
    ["10.1.0.0/8", "10.1.0.0/8", /bits set after the \/8 prefix \(did you mean 10\.0\.0\.0\/8\?\)/],
    ["2001:db8::1/32", "2001:db8::1/32", /did you mean 2001:db8::\/32\?/],
    ["1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9", /not an IPv4 or IPv6 address/],
    ["1::2::3", "1::2::3", /not an IPv4 or IPv6 address/],
    ["12345::", "12345::", /not an IPv4 or IPv6 address/],
    ["010.0.0.1", "010.0.0.1", /not an IPv4 or IPv6 address/],
    ["1.2.3.4::", "1.2.3.4::", /not an IPv4 or IPv6 address/],
    ["none,10.0.0.0/8", "none", /"none" is not a network/],
  ];
  for (const [text, entry, message] of cases) {
    assert.throws(
      () => parseNetworks(text),
      (error: unknown) => {
        assert.ok(error instanceof NetworkListError, `${text}: ${error}`);
        assert.equal(error.entry, entry, text);
        assert.match(error.message, message, text);
        return true;
      },
    );
  }
});

Deno.test("an empty list or entry is refused, pointing at none", () => {
  assert.throws(() => parseNetworks(""), { name: "NetworkListError", message: /write "none"/ });
  assert.throws(() => parseNetworks("10.0.0.0/8,,::1"), {
    name: "NetworkListError",
    message: /empty entry/,
  });
});

Deno.test("non-addresses are in no network", () => {
  const everything = parseNetworks("0.0.0.0/0,::/0");
  for (const address of ["", "/tmp/chat.sock", "example.com", "1.2.3", "::g"]) {
    assert.ok(!contains(everything, address), JSON.stringify(address));
  }
});

Deno.test("an IPv4 address is its own group and an IPv6 address is grouped by its prefix", () => {
  const group = (address: string, prefix = 64) => addressGroup(parseAddress(address)!, prefix);
  assert.equal(group("10.0.0.1"), group("::ffff:10.0.0.1"));
  assert.notEqual(group("10.0.0.1"), group("10.0.0.2"));
  assert.equal(group("2001:db8::1"), group("2001:db8::ffff:2"));
  assert.notEqual(group("2001:db8::1"), group("2001:db8:0:1::1"));
  assert.equal(group("2001:db8::1", 128), parseAddress("2001:db8::1"));
  assert.equal(parseAddress("fe80::1%eth0"), parseAddress("fe80::1"));
  assert.equal(parseAddress("/tmp/chat.sock"), null);
});
