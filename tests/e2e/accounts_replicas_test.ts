/**
 * Registered names across replicas: two server processes on one real
 * redis-server share the accounts, so a name registered through one cannot
 * be taken through the other without its password, and no password reaches
 * either server's log (at debug level).
 */

import assert from "node:assert/strict";
import { LineClient } from "../helpers/in_process_server.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

const PASSWORD = "correct-horse-battery";

async function connect(port: number): Promise<LineClient> {
  return new LineClient(await Deno.connect({ hostname: "127.0.0.1", port }));
}

Deno.test("a name registered on one replica needs its password on the other", async () => {
  await using redis = await RedisServer.start({ appendOnly: false });
  const env = { REDIS_URL: redis.url, LOG_LEVEL: "debug" };
  await using a = await ServerProcess.start({ env });
  await using b = await ServerProcess.start({ env });

  {
    await using alice = await connect(a.port);
    await alice.send("alice");
    await alice.readUntil((line) => line === "HISTORY_END");
    await alice.send(`/register ${PASSWORD}`);
    assert.match(await alice.next() ?? "", /^\* alice is registered/);
  }

  // JSON without the password, and with a wrong one: refused before any history.
  for (const [password, code] of [[undefined, "auth_required"], ["guess-1234", "auth_failed"]]) {
    await using mallory = await connect(b.port);
    await mallory.send(JSON.stringify({ type: "hello", user: "Alice", password }));
    const lines = await mallory.readToEnd();
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.equal(JSON.parse(lines[0]).code, code);
  }

  // Text mode on the other replica: held until the right password.
  await using owner = await connect(b.port);
  await owner.send("alice");
  assert.match(await owner.next() ?? "", /^! alice is registered: log in with \/login PASSWORD/);
  await owner.send("/login not-the-password");
  assert.equal(await owner.next(), "! wrong password for alice");
  await owner.send(`/login ${PASSWORD}`);
  await owner.readUntil((line) => line === "HISTORY_END");

  // The owner is online: the right password does not take the name twice.
  await using twin = await connect(a.port);
  await twin.send(JSON.stringify({ type: "hello", user: "alice", password: PASSWORD }));
  assert.equal(JSON.parse((await twin.readToEnd())[0]).code, "name_taken");

  for (const server of [a, b]) {
    for (const secret of [PASSWORD, "guess-1234", "not-the-password"]) {
      assert.ok(!server.logs.includes(secret), `a password in the log of replica ${server.port}`);
    }
  }
  assert.match(b.logs, /wrong password/);
});
