/**
 * User names on two real server processes sharing one real redis-server
 * (issue 5, item 3): each invalid name gets its own reason, a name is unique
 * among the users online on every replica regardless of case, `/who` lists
 * the users of all replicas, and the users of a replica that is killed
 * outright keep their names only until their presence expires.
 */

import assert from "node:assert/strict";
import { JsonClient, TextClient } from "../helpers/client.ts";
import { joinWhenFree, tryJoin } from "../helpers/admission.ts";
import { poll } from "../helpers/poll.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

/** The shortest expiry the server accepts, so the crash step stays short. */
const PRESENCE_TTL_S = 3;

const taken = (name: string) => `! the name ${name} is taken by someone online; choose another`;

/** Asks for `/who` and returns the answer line. */
async function who(client: TextClient): Promise<string> {
  client.send("/who");
  return (await client.readUntil((line) => line.startsWith("* online "))).at(-1)!;
}

/** Joins, failing if the server refused. */
async function join(port: number, name: string): Promise<TextClient> {
  const result = await tryJoin(port, name);
  assert.ok(result instanceof TextClient, `${name} refused: ${JSON.stringify(result)}`);
  return result;
}

Deno.test("user names across replicas", async (t) => {
  await using redis = await RedisServer.start();
  const env = { REDIS_URL: redis.url, PRESENCE_TTL: String(PRESENCE_TTL_S) };
  await using a = await ServerProcess.start({ env });
  await using b = await ServerProcess.start({ env });

  await t.step(
    "each invalid name is refused with its own reason and the connection closed",
    async () => {
      const allowed = "! invalid name: a name may only hold letters, digits, '_', '.' and '-'";
      const cases: [string, string][] = [
        ["x".repeat(33), "! invalid name: a name is at most 32 characters"],
        ["has space", allowed],
        ["tab\there", allowed],
        ["a/b", allowed],
        // What is left of a colour escape once the control character is gone.
        ["\x1b[31mred", allowed],
        // Nothing is left of a name made only of control characters.
        ["\x07\x1b\x00", "! invalid name: a name is required"],
        // A combining mark cannot start a name: it would attach to what is before it.
        ["\u0301ann", allowed],
        // A first line starting with "{" is a JSON hello, so the answer is JSON.
        [
          "{alice",
          JSON.stringify({
            type: "error",
            code: "bad_hello",
            text: "hello: not valid JSON",
            fatal: true,
          }),
        ],
      ];
      for (const [name, reason] of cases) {
        assert.deepEqual(await tryJoin(a.port, name), [reason], JSON.stringify(name));
      }
      // Right at the limits, and letters of any script.
      const fine = await Promise.all(
        ["y".repeat(32), "Zoë", "李雷", "a.b-c_9"].map((name) => join(a.port, name)),
      );
      await Promise.all(fine.map((client) => client.close()));
    },
  );

  await t.step(
    "a name online on one replica is refused on the other, whatever its case",
    async () => {
      const alice = await join(a.port, "alice");
      for (const name of ["alice", "ALICE", "Alice", "ａｌｉｃｅ"]) {
        assert.deepEqual(await tryJoin(b.port, name), [taken(name)]);
      }
      const json = await TextClient.connect(b.port);
      json.send(JSON.stringify({ type: "hello", user: "aLiCe" }));
      assert.deepEqual((await json.readToEnd()).map((line) => JSON.parse(line)), [{
        type: "error",
        code: "name_taken",
        text: "the name aLiCe is taken by someone online; choose another",
        fatal: true,
      }]);
      await json.close();
      // Free again once its holder has left.
      await alice.close();
      const again = await joinWhenFree(b.port, "Alice", taken("Alice"));
      await again.close();
    },
  );

  await t.step("/who on one replica lists the users of both, in either protocol", async () => {
    const ann = await join(a.port, "whoann");
    const bob = await join(b.port, "whobob");
    assert.equal(await who(ann), "* online (2): whoann, whobob");
    const { client: cat } = await JsonClient.join(b.port, "WhoCat");
    await cat.request({ type: "who" });
    const [answer] = await cat.readUntil((event) => event.type === "who");
    assert.deepEqual(answer, { type: "who", users: ["whoann", "whobob", "WhoCat"] });
    await Promise.all([ann.close(), bob.close(), cat.close()]);
  });

  await t.step(
    "the names of a replica killed outright stay taken until their presence expires, then are free",
    async () => {
      const watcher = await join(a.port, "survivor");
      const victims = await Promise.all(["dave", "erin"].map((name) => join(b.port, name)));
      await watcher.readUntil("* erin joined");
      const status = await b.stop("SIGKILL");
      assert.equal(status.signal, "SIGKILL");
      const killed = performance.now();
      // No leave was announced, so the claims are still there.
      assert.deepEqual(await tryJoin(a.port, "dave"), [taken("dave")]);
      assert.equal(await who(watcher), "* online (3): dave, erin, survivor");

      // A claim lives PRESENCE_TTL after its last refresh (every TTL/3), so
      // it expires between 2 and 3 s after the kill; the rest is margin for a
      // busy machine.
      const bound = (PRESENCE_TTL_S + 4) * 1000;
      await poll(
        "the killed replica's users gone from /who",
        async () => await who(watcher) === "* online (1): survivor",
        { timeoutMs: bound, intervalMs: 200 },
      );
      const dave = await joinWhenFree(a.port, "dave", taken("dave"), 2_000);
      const expired = performance.now() - killed;
      assert.ok(expired < bound, `names freed ${Math.round(expired)} ms after the kill`);
      await Promise.all([watcher, dave, ...victims].map((client) => client.close()));
    },
  );
});
