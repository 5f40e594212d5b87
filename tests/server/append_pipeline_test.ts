import assert from "node:assert/strict";
import { AppendPipeline } from "../../lib/server/append_pipeline.ts";

/** An append that runs until the test settles it, recording that it started. */
function controlled(started: number[], id: number) {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { append: () => (started.push(id), promise), settle: resolve };
}

Deno.test("below the limit an append starts at once, with nothing to wait for", () => {
  const pipeline = new AppendPipeline(2);
  const started: number[] = [];
  const first = controlled(started, 1);
  const second = controlled(started, 2);
  assert.equal(pipeline.add(first.append), undefined);
  assert.equal(pipeline.add(second.append), undefined);
  assert.deepEqual(started, [1, 2]);
  first.settle();
  second.settle();
});

Deno.test("at the limit the next append starts only once the oldest has settled", async () => {
  const pipeline = new AppendPipeline(2);
  const started: number[] = [];
  const appends = [1, 2, 3].map((id) => controlled(started, id));
  pipeline.add(appends[0].append);
  pipeline.add(appends[1].append);
  const waiting = pipeline.add(appends[2].append);
  assert.ok(waiting instanceof Promise);
  await Promise.resolve();
  assert.deepEqual(started, [1, 2]);
  appends[0].settle();
  await waiting;
  assert.deepEqual(started, [1, 2, 3]);
  appends[1].settle();
  appends[2].settle();
  await pipeline.settled();
});

Deno.test("settled waits for every append started so far", async () => {
  const pipeline = new AppendPipeline(4);
  const started: number[] = [];
  const appends = [1, 2].map((id) => controlled(started, id));
  for (const { append } of appends) pipeline.add(append);
  let done = false;
  const settled = pipeline.settled().then(() => done = true);
  appends[1].settle();
  await Promise.resolve();
  assert.equal(done, false);
  appends[0].settle();
  await settled;
  assert.equal(done, true);
});
