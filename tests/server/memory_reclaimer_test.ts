import assert from "node:assert/strict";
import { exposedCollector, MemoryReclaimer } from "../../lib/server/memory_reclaimer.ts";
import { sleep } from "../../lib/util/deadline.ts";
import { poll } from "../helpers/poll.ts";

const QUIET_MS = 30;

/** A reclaimer whose collections are recorded with the time each ran. */
function recording(minChurn = 3) {
  const collected: { at: number; churn: number }[] = [];
  const reclaimer = new MemoryReclaimer({
    collect: () => {},
    minChurn,
    quietMs: QUIET_MS,
    onCollected: ({ churn }) => collected.push({ at: performance.now(), churn }),
  });
  return { reclaimer, collected };
}

Deno.test("after enough sessions came and went, memory is collected once the server is quiet", async () => {
  const { reclaimer, collected } = recording();
  for (let i = 0; i < 3; i++) reclaimer.churned();
  await poll("collection 1", () => collected.length === 1, { intervalMs: 5 });
  assert.equal(collected[0].churn, 3);
  // Quiet from then on: one collection per burst, not one per quiet spell.
  await sleep(QUIET_MS * 3);
  assert.equal(collected.length, 1);
  reclaimer.close();
});

Deno.test("fewer sessions than the minimum never lead to a collection", async () => {
  const { reclaimer, collected } = recording();
  reclaimer.churned();
  reclaimer.churned();
  await sleep(QUIET_MS * 3);
  assert.equal(collected.length, 0);
  // The churn is kept: the next session makes up the minimum.
  reclaimer.churned();
  await poll("collection 1", () => collected.length === 1, { intervalMs: 5 });
  assert.equal(collected[0].churn, 3);
  reclaimer.close();
});

Deno.test("traffic during the quiet wait puts the collection off by a whole quiet spell", async () => {
  const { reclaimer, collected } = recording();
  for (let i = 0; i < 3; i++) reclaimer.churned();
  // Seen by the first wait when it ends, which must then wait again.
  reclaimer.busy();
  const lastBusy = performance.now();
  await poll("collection 1", () => collected.length === 1, { intervalMs: 5 });
  // Timers never fire early; a millisecond of rounding is allowed.
  assert.ok(collected[0].at - lastBusy >= 2 * QUIET_MS - 1, `${collected[0].at - lastBusy} ms`);
  reclaimer.close();
});

Deno.test("a session arriving during the quiet wait puts the collection off and is counted", async () => {
  const { reclaimer, collected } = recording();
  for (let i = 0; i < 4; i++) reclaimer.churned();
  const lastChurn = performance.now();
  await poll("collection 1", () => collected.length === 1, { intervalMs: 5 });
  assert.equal(collected[0].churn, 4);
  assert.ok(collected[0].at - lastChurn >= 2 * QUIET_MS - 1, `${collected[0].at - lastChurn} ms`);
  reclaimer.close();
});

Deno.test("after a collection, the next needs the minimum number of sessions again", async () => {
  const { reclaimer, collected } = recording();
  for (let i = 0; i < 3; i++) reclaimer.churned();
  await poll("collection 1", () => collected.length === 1, { intervalMs: 5 });
  reclaimer.churned();
  reclaimer.churned();
  await sleep(QUIET_MS * 3);
  assert.equal(collected.length, 1);
  reclaimer.churned();
  await poll("collection 2", () => collected.length === 2, { intervalMs: 5 });
  assert.equal(collected[1].churn, 3);
  reclaimer.close();
});

Deno.test("once closed, a pending collection is dropped and no later one is started", async () => {
  const { reclaimer, collected } = recording();
  for (let i = 0; i < 3; i++) reclaimer.churned();
  reclaimer.close();
  for (let i = 0; i < 3; i++) reclaimer.churned();
  await sleep(QUIET_MS * 3);
  assert.equal(collected.length, 0);
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
