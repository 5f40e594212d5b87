/**
 * The server process, started with the `server` task's flags, gives memory
 * back after a burst of connections (see `lib/server/memory_reclaimer.ts`),
 * and keeps serving afterwards.
 */

import assert from "node:assert/strict";
import { TextClient } from "../helpers/client.ts";
import { poll } from "../helpers/poll.ts";
import { ServerProcess } from "../helpers/server.ts";

Deno.test("after a burst of a thousand sessions coming and going, the server collects its garbage once quiet and serves on", async () => {
  await using server = await ServerProcess.start();
  assert.doesNotMatch(server.logs, /memory is kept/);
  // 500 join and leave: 1,000 sessions came or went, the reclaimer's minimum.
  for (let batch = 0; batch < 10; batch++) {
    const joined = await Promise.all(
      Array.from({ length: 50 }, (_, i) => TextClient.join(server.port, `burst${batch}_${i}`)),
    );
    await Promise.all(joined.map(({ client }) => client.close()));
  }
  const report = await poll(
    "the collection after the burst",
    () => server.logs.match(/memory given back after a burst of connections sessions=(\d+)/),
  );
  assert.ok(Number(report[1]) >= 1_000, report[0]);

  const { client: alice } = await TextClient.join(server.port, "alice");
  const { client: bob } = await TextClient.join(server.port, "bob");
  await alice.send("still here");
  assert.equal(await bob.nextMessage(), "[alice]: still here");
  await Promise.all([alice.close(), bob.close()]);
});
