/**
 * The client and passwords in a real pseudo-terminal (tmux): a registered
 * name's password is asked for before joining, every password asked for is
 * typed without echo, and no line carrying a password comes back with the
 * up arrow.
 */

import assert from "node:assert/strict";
import { TextClient } from "../helpers/client.ts";
import { clientTaskFlags } from "../helpers/client_process.ts";
import { baseEnv, ServerProcess } from "../helpers/server.ts";
import { shellQuote, TmuxSession } from "../helpers/tmux.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIRST = "first-Secret-1";
const SECOND = "second-Secret-2";
const THIRD = "third-Secret-3";

Deno.test("passwords are asked for without echo and never come back from the line history", async () => {
  await using server = await ServerProcess.start();
  {
    const { client } = await TextClient.join(server.port, "alice");
    client.send(`/register ${FIRST}`);
    await client.readUntil((line) => line.includes("is registered"));
    await client.close();
  }
  const client = ["deno", "run", ...await clientTaskFlags(), "client.ts"]
    .concat(["127.0.0.1", String(server.port), "alice"])
    .map(shellQuote).join(" ");
  await using tty = await TmuxSession.start(`cd ${shellQuote(ROOT)} && ${client}`, {
    env: { ...baseEnv(), NO_COLOR: "1" },
  });
  const screenHolds = (secret: string) => async () =>
    (await tty.rows()).some((row) => row.includes(secret));

  await tty.until((rows) => rows.at(-1) === "password for alice:", "the password prompt");
  await tty.type(FIRST);
  assert.equal(await screenHolds(FIRST)(), false, "the password is not echoed");
  await tty.press("Enter");
  await tty.until((rows) => rows.at(-1) === "alice>", "the prompt after joining");

  await tty.type("/passwd");
  await tty.press("Enter");
  await tty.until((rows) => rows.at(-1) === "old password:", "the old password prompt");
  await tty.type(FIRST);
  await tty.press("Enter");
  await tty.until((rows) => rows.at(-1) === "new password:", "the new password prompt");
  await tty.type(SECOND);
  assert.equal(await screenHolds(SECOND)(), false, "the new password is not echoed");
  await tty.press("Enter");
  await tty.until((rows) => rows.some((row) => row.includes("password changed")), "the change");

  await tty.type("hello");
  await tty.press("Enter");
  await tty.type(`/login ${SECOND}`);
  await tty.press("Enter");
  await tty.until((rows) => rows.some((row) => row.includes("logged in as alice")), "the login");
  await tty.press("Up");
  await tty.until((rows) => rows.at(-1) === "alice> hello", "the previous line");
  await tty.press("Up", "Up");
  await tty.until((rows) => rows.at(-1) === "alice> hello", "still the oldest line");
  await tty.press("C-u");

  // The password the client keeps for reconnecting is the new one.
  await tty.type(`/passwd ${SECOND} ${THIRD}`);
  await tty.press("Enter");
  await tty.until(
    (rows) => rows.filter((row) => row.includes("password changed")).length === 2,
    "the second change",
  );
  const rows = await tty.rows();
  assert.ok(!rows.some((row) => row.includes(FIRST)), rows.join("\n"));
  assert.ok(!server.logs.includes(FIRST) && !server.logs.includes(SECOND));
});
