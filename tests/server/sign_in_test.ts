/**
 * The gate before a name is claimed, on a real in-process server: a
 * registered name is given only to a client that proves its password, in
 * text mode by holding the client until `/login`, in JSON mode by its hello.
 */

import assert from "node:assert/strict";
import { InProcessServer, type LineClient } from "../helpers/in_process_server.ts";

const PASSWORD = "tr0ub4dor&3";

async function register(server: InProcessServer, user: string): Promise<void> {
  await using owner = (await server.joinText(user)).client;
  await owner.send(`/register ${PASSWORD}`);
  assert.match(await owner.next() ?? "", /^\* .* is registered/);
}

/** Lines until the connection closes. */
function rest(client: LineClient): Promise<string[]> {
  return client.readToEnd();
}

Deno.test("an unregistered name joins as before, in both modes", async () => {
  await using server = await InProcessServer.start();
  await using text = (await server.joinText("alice")).client;
  await using _json = (await server.joinJson("bob")).client;
  await text.send("/who");
  const lines = await text.readUntil((line) => line.startsWith("* online"));
  assert.equal(lines.at(-1), "* online (2): alice, bob");
});

Deno.test("text mode: a registered name is held, unseen, until /login succeeds", async () => {
  await using server = await InProcessServer.start();
  await register(server, "alice");
  await using watcher = (await server.joinText("bob")).client;
  await using held = await server.connect();
  await held.send("Alice");
  assert.equal(
    await held.next(),
    "! Alice is registered: log in with /login PASSWORD within 5 s",
  );
  await held.send("hello?");
  assert.match(await held.next() ?? "", /^! Alice is registered/);
  await watcher.send("/who");
  assert.equal(await watcher.next(), "* online (1): bob", "not listed while held");
  await held.send("/login wrong-password");
  assert.equal(await held.next(), "! wrong password for Alice");
  await held.send(`/login ${PASSWORD}`);
  assert.deepEqual(await held.readUntil((line) => line === "HISTORY_END"), [
    "* logged in as Alice",
    "HISTORY_END",
  ]);
  assert.equal(await watcher.next(), "* Alice joined");
});

Deno.test("text mode: a held client that does not log in in time is turned away", async () => {
  await using server = await InProcessServer.start({ handshakeTimeoutMs: 300 });
  await register(server, "alice");
  await using held = await server.connect();
  await held.send("alice");
  assert.deepEqual(await rest(held), [
    "! alice is registered: log in with /login PASSWORD within 0.3 s",
    "! not logged in within 0.3 s",
  ]);
});

Deno.test("JSON mode: the hello must carry the right password", async () => {
  await using server = await InProcessServer.start();
  await register(server, "alice");
  for (
    const [hello, code] of [
      [{ type: "hello", user: "alice" }, "auth_required"],
      [{ type: "hello", user: "ALICE", password: "not-it-at-all" }, "auth_failed"],
    ] as const
  ) {
    await using client = await server.connect();
    await client.send(JSON.stringify(hello));
    const [line, ...after] = await rest(client);
    assert.deepEqual({ ...JSON.parse(line), text: undefined }, {
      type: "error",
      code,
      fatal: true,
      text: undefined,
    });
    assert.deepEqual(after, []);
  }
  await using client = await server.connect();
  await client.send(JSON.stringify({ type: "hello", user: "alice", password: PASSWORD }));
  const history = await client.readUntil((line) => JSON.parse(line).type === "history_end");
  assert.equal(JSON.parse(history.at(-1)!).type, "history_end");
});

Deno.test("guessing is throttled: after 5 wrong passwords from one address the next is refused unchecked", async () => {
  await using server = await InProcessServer.start();
  await register(server, "alice");
  await using held = await server.connect();
  await held.send("alice");
  await held.next();
  for (let i = 0; i < 5; i++) {
    await held.send(`/login guess-number-${i}`);
    assert.equal(await held.next(), "! wrong password for alice");
  }
  await held.send(`/login ${PASSWORD}`);
  assert.match(await held.next() ?? "", /^! too many wrong passwords; try again in \d+ s$/);
  const json = await server.connect();
  await json.send(JSON.stringify({ type: "hello", user: "alice", password: PASSWORD }));
  assert.equal(JSON.parse((await rest(json))[0]).code, "auth_throttled");
  await json[Symbol.asyncDispose]();
});

Deno.test("no password reaches the log, at debug level, whatever happens to it", async () => {
  await using server = await InProcessServer.start();
  await register(server, "alice");
  await using held = await server.connect();
  await held.send("alice");
  await held.next();
  await held.send("/login wrong-password-xyz");
  await held.next();
  await held.send(`/login ${PASSWORD}`);
  await held.readUntil((line) => line === "HISTORY_END");
  await held.send(`/passwd ${PASSWORD} brand-new-secret`);
  assert.equal(await held.next(), "* password changed");
  const logs = server.logs.join("\n");
  assert.match(logs, /wrong password/);
  for (const secret of [PASSWORD, "wrong-password-xyz", "brand-new-secret"]) {
    assert.ok(!logs.includes(secret), `${secret} in the log`);
  }
});
