import assert from "node:assert/strict";
import { exposedCollector, MemoryReclaimer } from "../../lib/server/memory_reclaimer.ts";
import { sleep } from "../../lib/util/deadline.ts";
import { poll } from "../helpers/poll.ts";

const QUIET_MS = 30;
const MiB = 2 ** 20;

/**
 * A reclaimer over a heap the test sizes, whose collections are recorded
 * with the time each ran; a collection leaves `after` bytes in the heap.
 */
function recording(after = 10 * MiB) {
  const heap = { used: 10 * MiB };
  const collected: { at: number; beforeBytes: number }[] = [];
  const reclaimer = new MemoryReclaimer({
    collect: () => heap.used = after,
    heapUsed: () => heap.used,
    minGrowthBytes: 24 * MiB,
    quietMs: QUIET_MS,
    onCollected: ({ beforeBytes }) => collected.push({ at: performance.now(), beforeBytes }),
  });
  return { reclaimer, heap, collected };
}

/** A session comes, then a quiet spell passes: how many collections there have been by then. */
async function countAfterQuiet(reclaimer: MemoryReclaimer, collected: unknown[]): Promise<number> {
  reclaimer.churned();
  await sleep(QUIET_MS * 3);
  return collected.length;
}

/** Waits until `n` collections were recorded. */
function collections(collected: unknown[], n: number): Promise<boolean> {
  return poll(`collection ${n}`, () => collected.length === n, { intervalMs: 5 });
}

Deno.test("once quiet after sessions came and went, a heap grown past the minimum is collected once", async () => {
  const { reclaimer, heap, collected } = recording();
  heap.used = 40 * MiB;
  reclaimer.churned();
  await collections(collected, 1);
  assert.equal(collected[0].beforeBytes, 40 * MiB);
  // Quiet from then on: one collection per burst, not one per quiet spell.
  assert.equal(await countAfterQuiet(reclaimer, collected), 1);
  reclaimer.close();
});

Deno.test("a heap grown less than the minimum is left to V8, growth counting from the least seen", async () => {
  const { reclaimer, heap, collected } = recording();
  heap.used = 30 * MiB;
  assert.equal(await countAfterQuiet(reclaimer, collected), 0);
  // V8 collected on its own meanwhile: growth now counts from here.
  heap.used = 4 * MiB;
  assert.equal(await countAfterQuiet(reclaimer, collected), 0);
  heap.used = 30 * MiB;
  reclaimer.churned();
  await collections(collected, 1);
  reclaimer.close();
});

for (
  const [what, act] of [
    ["an event fanned out", (reclaimer: MemoryReclaimer) => reclaimer.busy()],
    ["a session coming or going", (reclaimer: MemoryReclaimer) => reclaimer.churned()],
  ] as const
) {
  Deno.test(`${what} during the quiet wait puts the collection off by a whole quiet spell`, async () => {
    const { reclaimer, heap, collected } = recording();
    heap.used = 40 * MiB;
    reclaimer.churned();
    // Seen by the first wait when it ends, which must then wait again.
    act(reclaimer);
    const last = performance.now();
    await collections(collected, 1);
    // Timers never fire early; a millisecond of rounding is allowed.
    assert.ok(collected[0].at - last >= 2 * QUIET_MS - 1, `${collected[0].at - last} ms`);
    reclaimer.close();
  });
}

Deno.test("after a collection, the next needs the heap to grow by the minimum again", async () => {
  const { reclaimer, heap, collected } = recording(20 * MiB);
  heap.used = 40 * MiB;
  reclaimer.churned();
  await collections(collected, 1);
  heap.used = 40 * MiB;
  assert.equal(await countAfterQuiet(reclaimer, collected), 1);
  heap.used = 50 * MiB;
  reclaimer.churned();
  await collections(collected, 2);
  reclaimer.close();
});

Deno.test("once closed, a pending collection is dropped and no later one is started", async () => {
  const { reclaimer, heap, collected } = recording();
  heap.used = 40 * MiB;
  reclaimer.churned();
  reclaimer.close();
  assert.equal(await countAfterQuiet(reclaimer, collected), 0);
});

Deno.test("without --expose-gc there is no collector to use", () => {
  // `deno test` runs without the flag.
  assert.equal(exposedCollector(), undefined);
});

Deno.test("with --expose-gc the collector frees the garbage the heap held", async () => {
  const script = `
    import { exposedCollector } from ${
    JSON.stringify(import.meta.resolve("../../lib/server/memory_reclaimer.ts"))
  };
    let garbage = Array.from({ length: 200_000 }, (_, i) => ({ i, text: "x".repeat(40) + i }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    const before = Deno.memoryUsage().heapUsed;
    garbage = null;
    exposedCollector()();
    console.log(JSON.stringify({ before, after: Deno.memoryUsage().heapUsed }));
  `;
  const { success, stdout, stderr } = await new Deno.Command("deno", {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  assert.ok(success, decoder.decode(stderr));
  const { before, after } = JSON.parse(decoder.decode(stdout));
  // The garbage is about 20 MiB; what stays is the runtime's own few MiB.
  assert.ok(before - after > 10 * 2 ** 20, `heap ${before} -> ${after} bytes`);
});
