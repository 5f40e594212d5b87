/**
 * Joining byte arrays: plain, and remembered by the identity of the parts so
 * that the same batch for many connections is joined once.
 */

import assert from "node:assert/strict";
import { concat, ConcatMemo } from "../../lib/util/bytes.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

Deno.test("concat joins the parts in order and hands back a single part as it is", () => {
  assert.deepEqual(concat([bytes(1), bytes(2, 3), bytes()]), bytes(1, 2, 3));
  const only = bytes(4);
  assert.equal(concat([only]), only);
});

Deno.test("the same parts in the same order are joined once and the result shared", () => {
  const memo = new ConcatMemo(2);
  const [a, b] = [bytes(1), bytes(2)];
  const first = memo.concat([a, b]);
  assert.deepEqual(first, bytes(1, 2));
  assert.equal(memo.concat([a, b]), first, "a new array of the same parts");
  assert.notEqual(memo.concat([b, a]), first, "the same parts in another order");
  assert.deepEqual(memo.concat([b, a]), bytes(2, 1));
});

Deno.test("parts with equal bytes but another identity are joined anew", () => {
  const memo = new ConcatMemo(2);
  const a = bytes(1);
  const first = memo.concat([a, bytes(2)]);
  const second = memo.concat([a, bytes(2)]);
  assert.notEqual(second, first);
  assert.deepEqual(second, first);
});

Deno.test("only the last joins are remembered", () => {
  const memo = new ConcatMemo(2);
  const parts = [bytes(1), bytes(2)];
  const first = memo.concat(parts);
  memo.concat([bytes(3), bytes(4)]);
  assert.equal(memo.concat([...parts]), first, "second most recent is still known");
  memo.concat([bytes(5), bytes(6)]);
  memo.concat([bytes(7), bytes(8)]);
  assert.notEqual(memo.concat([...parts]), first, "pushed out by two newer joins");
});
