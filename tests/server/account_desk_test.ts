/**
 * The account commands of a joined client, on a real in-process server:
 * `/register`, `/login`, `/passwd` and `/unregister` in text mode, and their
 * JSON requests, each answered with one notice or one typed error.
 */

import assert from "node:assert/strict";
import { InProcessServer } from "../helpers/in_process_server.ts";

Deno.test("text mode: register, change the password, unregister, each answered once", async () => {
  await using server = await InProcessServer.start();
  await using alice = (await server.joinText("alice")).client;
  const ask = async (line: string) => {
    await alice.send(line);
    return await alice.next();
  };
  assert.equal(await ask("/login first-password"), "! alice is not registered; /register it first");
  assert.equal(
    await ask("/register short"),
    "! a password has at least 8 characters; not registered",
  );
  assert.equal(
    await ask("/register first-password"),
    "* alice is registered: from now on it needs your password",
  );
  assert.equal(await ask("/register other-password"), "! alice is registered already");
  assert.equal(await ask("/login first-password"), "* logged in as alice");
  assert.equal(await ask("/passwd"), "! usage: /passwd OLD NEW");
  assert.equal(await ask("/passwd wrong-password second-pw"), "! wrong password for alice");
  assert.equal(await ask("/passwd first-password second-pw"), "* password changed");
  assert.equal(await ask("/unregister first-password"), "! wrong password for alice");
  assert.equal(
    await ask("/unregister second-pw"),
    "* alice is no longer registered; anyone may use it",
  );
  assert.equal(await ask("/login second-pw"), "! alice is not registered; /register it first");
});

Deno.test("JSON mode: account requests are answered with notices and typed errors", async () => {
  await using server = await InProcessServer.start();
  await using alice = (await server.joinJson("alice")).client;
  const ask = async (request: Record<string, string>) => {
    await alice.send(JSON.stringify(request));
    const { type, code } = JSON.parse(await alice.next() ?? "{}");
    return `${type} ${code}`;
  };
  assert.equal(await ask({ type: "register", password: "first-password" }), "notice registered");
  assert.equal(
    await ask({ type: "register", password: "first-password" }),
    "error already_registered",
  );
  assert.equal(
    await ask({ type: "passwd", old: "first-password", new: "x" }),
    "error bad_password",
  );
  assert.equal(
    await ask({ type: "passwd", old: "first-password", new: "second-password" }),
    "notice password_changed",
  );
  assert.equal(await ask({ type: "login", password: "first-password" }), "error auth_failed");
  assert.equal(await ask({ type: "login", password: "second-password" }), "notice logged_in");
  assert.equal(await ask({ type: "login" }), "error bad_request");
  assert.equal(
    await ask({ type: "unregister", password: "second-password" }),
    "notice unregistered",
  );
});
