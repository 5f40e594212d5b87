/**
 * The token bucket and the flood policy, with injected time: the burst,
 * refusals, refill, disconnection of a sustained flood, and recovery after
 * a pause.
 */

import assert from "node:assert/strict";
import { FloodGuard, type FloodVerdict, TokenBucket } from "../../lib/server/flood_guard.ts";

/** `count` checks at time `at`, as a list of verdicts. */
function burst(guard: FloodGuard, count: number, at: number): FloodVerdict[] {
  return Array.from({ length: count }, () => guard.check(at));
}

const times = (verdict: FloodVerdict, count: number): FloodVerdict[] =>
  new Array<FloodVerdict>(count).fill(verdict);

Deno.test("a full bucket gives burst tokens at once, then refuses", () => {
  const bucket = new TokenBucket(5, 10, 0);
  for (let i = 0; i < 10; i++) assert.equal(bucket.take(0), true, `take ${i + 1}`);
  assert.equal(bucket.take(0), false);
  assert.equal(bucket.level(0), 0);
});

Deno.test("tokens come back at the rate, never above the burst", () => {
  const bucket = new TokenBucket(5, 10, 0);
  for (let i = 0; i < 10; i++) bucket.take(0);
  assert.equal(bucket.take(199), false, "one token takes 200 ms at 5/s");
  assert.equal(bucket.take(200), true);
  assert.equal(bucket.take(200), false);
  assert.equal(bucket.level(60_200), 10, "an hour idle still holds only the burst");
});

Deno.test("a fractional rate refills proportionally", () => {
  const bucket = new TokenBucket(0.5, 1, 0);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(1_999), false);
  assert.equal(bucket.take(2_000), true);
});

Deno.test("a clock that goes backwards does not drain or fill the bucket", () => {
  const bucket = new TokenBucket(5, 10, 1_000);
  bucket.take(1_000);
  assert.equal(bucket.level(500), 9);
  assert.equal(bucket.level(1_000), 9);
});

Deno.test("borrowing goes into debt up to the limit and is repaid by the refill", () => {
  const bucket = new TokenBucket(10, 2, 0);
  bucket.take(0);
  bucket.take(0);
  assert.equal(bucket.borrow(2, 0), true);
  assert.equal(bucket.borrow(2, 0), true);
  assert.equal(bucket.borrow(2, 0), false, "a third token would exceed a debt of 2");
  assert.equal(bucket.level(0), -2);
  assert.equal(bucket.take(200), false, "200 ms repays the debt of 2 but leaves no token");
  assert.equal(bucket.take(300), true);
});

Deno.test("out-of-range rates and bursts are refused with a clear message", () => {
  for (const rate of [0, -1, NaN, Infinity]) {
    assert.throws(() => new TokenBucket(rate, 10), {
      name: "RangeError",
      message: /rate must be a finite number above 0/,
    });
  }
  for (const burst of [0, 0.5, NaN, Infinity]) {
    assert.throws(() => new TokenBucket(5, burst), {
      name: "RangeError",
      message: /burst must be a finite number of at least 1/,
    });
  }
  assert.throws(() => new FloodGuard({ rate: 0, burst: 10 }), RangeError);
});

Deno.test("flood guard: burst messages pass, the next ones are told to slow down, then a sustained flood is disconnected", () => {
  const guard = new FloodGuard({ rate: 5, burst: 10 }, 0);
  assert.deepEqual(burst(guard, 10, 0), times("ok", 10));
  assert.deepEqual(burst(guard, 10, 0), times("slow_down", 10));
  assert.deepEqual(burst(guard, 3, 0), times("disconnect", 3));
});

Deno.test("flood guard: a client sending at the rate is never refused", () => {
  const guard = new FloodGuard({ rate: 5, burst: 10 }, 0);
  for (let i = 0; i < 1_000; i++) {
    assert.equal(guard.check(i * 200), "ok", `message ${i} at ${i * 200} ms`);
  }
});

Deno.test("flood guard: sending a little too fast for long enough is refused, then disconnected", () => {
  // 6 messages per second against a rate of 5: the bucket drains by 1 token
  // per second, then every message is refused and the debt grows by 1/s.
  const guard = new FloodGuard({ rate: 5, burst: 10 }, 0);
  const verdicts: FloodVerdict[] = [];
  for (let i = 0; verdicts.at(-1) !== "disconnect" && i < 10_000; i++) {
    verdicts.push(guard.check(i * 1000 / 6));
  }
  const firstRefusal = verdicts.indexOf("slow_down");
  assert.ok(firstRefusal > 10, `the burst covers the first seconds (refused at ${firstRefusal})`);
  assert.equal(verdicts.at(-1), "disconnect", "a sustained flood ends in a disconnection");
  assert.ok(
    verdicts.length < 6 * 60,
    `disconnected within a minute (after ${verdicts.length} messages)`,
  );
  assert.ok(
    !verdicts.slice(firstRefusal).includes("ok"),
    "once over the rate, nothing passes while the flood goes on",
  );
});

Deno.test("flood guard: a client that pauses after being told to slow down recovers", () => {
  const guard = new FloodGuard({ rate: 5, burst: 10 }, 0);
  burst(guard, 10, 0);
  assert.deepEqual(burst(guard, 5, 0), times("slow_down", 5));
  // A debt of 5 tokens is repaid after 1 s; the next message needs one more token.
  assert.equal(guard.check(1_100), "slow_down", "still in debt");
  // That refusal cost one more token: 6 owed, plus one to send, is 1.4 s from 0.
  assert.equal(guard.check(1_400), "ok");
  // A long pause refills the whole burst.
  assert.deepEqual(burst(guard, 10, 10_000), times("ok", 10));
  assert.equal(guard.check(10_000), "slow_down");
});

Deno.test("flood guard: a disconnect verdict lets nothing through until the debt is repaid", () => {
  const guard = new FloodGuard({ rate: 1, burst: 2 }, 0);
  assert.deepEqual(burst(guard, 5, 0), ["ok", "ok", "slow_down", "slow_down", "disconnect"]);
  assert.equal(guard.check(500), "disconnect");
  assert.equal(guard.check(1_000), "slow_down");
  assert.equal(guard.check(2_999), "slow_down");
  assert.equal(guard.check(5_100), "ok", "debt repaid and one token earned");
});
