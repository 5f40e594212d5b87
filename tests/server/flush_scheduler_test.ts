/**
 * The flush scheduler: idle it flushes at the end of the turn; busy, the
 * next flush waits for the last one to be done (all its writes, or all but
 * an eighth and a grace for the rest), but never past its longest delay.
 *
 * Queues are plain objects that record when they are started, and the clock
 * is a variable, so the spacing is computed, not timed.
 */

import assert from "node:assert/strict";
import { type Flushable, flushDoneAt, FlushScheduler } from "../../lib/server/flush_scheduler.ts";
import { poll } from "../helpers/poll.ts";

/** Records each flush number it was started for. */
class RecordingQueue implements Flushable {
  readonly flushes: number[] = [];

  startWriting(flush: number): boolean {
    this.flushes.push(flush);
    return true;
  }
}

/** Lets the current turn of the event loop end, immediates included. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("a flush is done when its writes are, or after a grace for its last ones", () => {
  assert.equal(flushDoneAt(100, 114, 8, 0), 114);
  assert.equal(flushDoneAt(100, 114, 8, 1), 116);
  assert.equal(flushDoneAt(100, 112, 1000, 100), 112 + 12 * 100 / 900);
});

Deno.test("idle, a scheduled queue is written at the end of the turn, once however often it asked", async () => {
  const scheduler = new FlushScheduler();
  const queue = new RecordingQueue();
  scheduler.schedule(queue);
  scheduler.schedule(queue);
  assert.deepEqual(queue.flushes, [], "not before the turn ends");
  await nextTurn();
  assert.deepEqual(queue.flushes, [1]);
});

/** Starts a first flush of `count` queues at clock 0; returns the scheduler and a queue waiting for the next. */
async function busyScheduler(
  count: number,
  clock: () => number,
): Promise<{ scheduler: FlushScheduler; next: RecordingQueue }> {
  const scheduler = new FlushScheduler({ maxDelayMs: 60_000, now: clock });
  const first = Array.from({ length: count }, () => new RecordingQueue());
  for (const queue of first) scheduler.schedule(queue);
  await nextTurn();
  assert.ok(first.every((queue) => queue.flushes[0] === 1), "the first flush starts them all");
  const next = new RecordingQueue();
  scheduler.schedule(next);
  return { scheduler, next };
}

Deno.test("a busy flush starts as soon as every write of the last one is done", async () => {
  let clock = 0;
  const { scheduler, next } = await busyScheduler(8, () => clock);
  try {
    clock = 14_000; // seven writes in 14 s: the eighth would get 2 s more
    for (let i = 0; i < 7; i++) scheduler.written(1);
    scheduler.written(0); // a drain's write is not the flush's
    await nextTurn();
    assert.deepEqual(next.flushes, [], "one of eight writes is still out, within its grace");

    scheduler.written(1);
    await nextTurn();
    assert.deepEqual(next.flushes, [2], "all eight done: no pause after them");
  } finally {
    scheduler.flushNow();
  }
});

Deno.test("a flush goes without the last eighth of writes once their grace is over", async () => {
  let clock = 0;
  const { scheduler, next } = await busyScheduler(8, () => clock);
  try {
    clock = 7; // seven writes in 7 ms: the eighth gets 1 ms more
    for (let i = 0; i < 6; i++) scheduler.written(1);
    await nextTurn();
    assert.deepEqual(next.flushes, [], "two of eight writes are still out");

    scheduler.written(1);
    await poll("the next flush, the eighth write still out", () => next.flushes.length === 1);
    assert.deepEqual(next.flushes, [2]);
  } finally {
    scheduler.flushNow();
  }
});

Deno.test("a write that never finishes holds the next flush back no longer than the longest delay", async () => {
  const scheduler = new FlushScheduler({ maxDelayMs: 20 });
  try {
    scheduler.schedule(new RecordingQueue()); // its write is never reported done
    await nextTurn();
    const next = new RecordingQueue();
    scheduler.schedule(next);
    await nextTurn();
    assert.deepEqual(next.flushes, []);
    await poll("the flush after the longest delay", () => next.flushes.length === 1);
  } finally {
    scheduler.flushNow();
  }
});
