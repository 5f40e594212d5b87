/**
 * The flush scheduler: idle it flushes at the end of the turn; busy, the
 * next flush waits for the last one to be done (all but an eighth of its
 * writes) and then for as long again, but never past its longest delay.
 *
 * Queues are plain objects that record when they are started, and the clock
 * is a variable, so the spacing is computed, not timed.
 */

import assert from "node:assert/strict";
import { type Flushable, FlushScheduler, nextFlushAt } from "../../lib/server/flush_scheduler.ts";
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

Deno.test("the next flush may start after a pause that makes writing the given share of the time", () => {
  assert.equal(nextFlushAt(100, 112, 0.5), 124);
  assert.equal(nextFlushAt(100, 112, 1), 112);
  assert.equal(nextFlushAt(100, 112, 0.25), 148);
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

Deno.test("a flush waits until all but an eighth of the last flush's writes are done", async () => {
  let clock = 0;
  const scheduler = new FlushScheduler({ writeShare: 1, maxDelayMs: 60_000, now: () => clock });
  try {
    const first = Array.from({ length: 8 }, () => new RecordingQueue());
    for (const queue of first) scheduler.schedule(queue);
    await nextTurn();
    assert.ok(first.every((queue) => queue.flushes[0] === 1), "the first flush starts all eight");

    const next = new RecordingQueue();
    scheduler.schedule(next);
    clock = 10;
    for (let i = 0; i < 6; i++) scheduler.written(1);
    scheduler.written(0); // a drain's write is not the flush's
    await nextTurn();
    assert.deepEqual(next.flushes, [], "two of eight writes are still out");

    scheduler.written(1); // seven of eight: the eighth may be a reader that stopped reading
    await nextTurn();
    assert.deepEqual(next.flushes, [2]);
  } finally {
    scheduler.flushNow();
  }
});

Deno.test("once a flush is done the next waits as long as it took, at the default share", async () => {
  let clock = 0;
  const scheduler = new FlushScheduler({ maxDelayMs: 1_000_000, now: () => clock });
  try {
    const first = new RecordingQueue();
    scheduler.schedule(first);
    await nextTurn();
    const next = new RecordingQueue();
    scheduler.schedule(next);
    clock = 100_000;
    scheduler.written(1); // done after 100 s of clock: the next may start at 200 s
    await nextTurn();
    assert.deepEqual(next.flushes, [], "put off while the clock says it is too early");
    clock = 200_000;
    // The timer was armed for the clock's delay (capped by maxDelayMs); a flush now runs it.
    scheduler.flushNow();
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
