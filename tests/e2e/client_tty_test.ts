/**
 * The chat client's terminal UI in a real pseudo-terminal (tmux): messages
 * arriving while a line is half typed land above it and leave it intact;
 * line editing with wide characters; colours and NO_COLOR; and the terminal
 * restored (canonical mode and echo back on) after Ctrl-D, Ctrl-C, /quit and
 * a server that is gone for good.
 *
 * The client runs in the pane as `client; echo exit=$? > exit; stty -a >
 * stty`, so the shell records its exit code and the terminal state it left.
 */

import assert from "node:assert/strict";
import { JsonClient, type JsonEvent } from "../helpers/client.ts";
import { clientTaskFlags } from "../helpers/client_process.ts";
import { baseEnv, ServerProcess } from "../helpers/server.ts";
import { shellQuote, TmuxSession } from "../helpers/tmux.ts";
import { sleep } from "../../lib/util/deadline.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TIME = String.raw`\d\d:\d\d`;
const PROMPT = "alice> ";

/** Starts the client as alice in a 100x30 tmux pane. */
async function startClient(
  port: number,
  options: { env?: Record<string, string>; args?: string[] } = {},
): Promise<TmuxSession> {
  const env = baseEnv();
  delete env.NO_COLOR;
  const client = ["deno", "run", ...await clientTaskFlags(), "client.ts"]
    .concat(["127.0.0.1", String(port), "alice", ...options.args ?? []])
    .map(shellQuote).join(" ");
  const tty = await TmuxSession.start(
    `cd ${shellQuote(ROOT)} && ${client}; echo "exit=$?" > "$TEST_DIR/exit"; ` +
      `stty -a > "$TEST_DIR/stty"`,
    { env: { ...env, ...options.env } },
  );
  await tty.until((rows) => rows.at(-1) === PROMPT.trimEnd(), "the prompt");
  return tty;
}

/** Waits for the client to exit; returns its code and whether the terminal is cooked again. */
async function exited(tty: TmuxSession): Promise<{ code: number; restored: boolean }> {
  const deadline = Date.now() + 10_000;
  while (true) {
    try {
      const exit = await Deno.readTextFile(`${tty.dir}/exit`);
      await sleep(100);
      const stty = await Deno.readTextFile(`${tty.dir}/stty`);
      const has = (flag: string) => new RegExp(`(^|\\s)${flag}(\\s|$)`).test(stty);
      return {
        code: Number(exit.trim().replace("exit=", "")),
        restored: has("icanon") && has("echo") && has("isig") && has("icrnl"),
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || Date.now() > deadline) {
        throw new Error(`the client did not exit: ${error}\n${(await tty.rows()).join("\n")}`);
      }
      await sleep(50);
    }
  }
}

/** Waits for alice's message `text` to reach another client, and returns it. */
async function received(client: JsonClient, text: string): Promise<JsonEvent> {
  const events = await client.readUntil((event) =>
    event.type === "message" && event.user === "alice" && event.text === text
  );
  return events.at(-1)!;
}

Deno.test("messages arriving while a line is half typed go above it; the line stays intact", async () => {
  await using server = await ServerProcess.start();
  const { client: bob } = await JsonClient.join(server.port, "bob");
  await using tty = await startClient(server.port);
  await bob.readUntil((event) => event.type === "join" && event.user === "alice");

  await tty.type("half a li");
  await tty.until((rows) => rows.at(-1) === `${PROMPT}half a li`, "the typed text");
  for (let i = 1; i <= 3; i++) await bob.request({ type: "message", text: `msg ${i}` });
  const rows = await tty.until((rows) => rows.some((row) => row.includes("bob: msg 3")), "msg 3");
  assert.equal(rows.at(-1), `${PROMPT}half a li`);
  assert.match(rows.at(-4)!, new RegExp(`^${TIME} bob: msg 1$`));
  assert.match(rows.at(-3)!, new RegExp(`^${TIME} bob: msg 2$`));
  assert.match(rows.at(-2)!, new RegExp(`^${TIME} bob: msg 3$`));
  assert.deepEqual(await tty.cursor(), { x: `${PROMPT}half a li`.length, y: rows.length - 1 });

  await tty.type("ne");
  await tty.press("Enter");
  await received(bob, "half a line");
  const after = await tty.until(
    (rows) => rows.some((row) => row.endsWith("alice: half a line")),
    "the own message",
  );
  assert.equal(after.filter((row) => row.includes("half a line")).length, 1, after.join("\n"));
  assert.equal(after.at(-1), PROMPT.trimEnd());

  await tty.press("C-d");
  assert.deepEqual(await exited(tty), { code: 0, restored: true });
  await bob.readUntil((event) => event.type === "leave" && event.user === "alice");
  await bob.close();
});

Deno.test("wide characters and emoji are edited by grapheme with the cursor in the right column", async () => {
  await using server = await ServerProcess.start();
  const { client: bob } = await JsonClient.join(server.port, "bob");
  await using tty = await startClient(server.port);

  await tty.type("ab漢字😀");
  await tty.press("Left", "Left", "BSpace");
  await tty.type("中");
  await tty.press("Home");
  await tty.type("<");
  await tty.press("End");
  await tty.type(">");
  await tty.until((rows) => rows.at(-1) === `${PROMPT}<ab中字😀>`, "the edited line");
  // < a b (1 each), 中 字 😀 (2 each), > (1)
  assert.equal((await tty.cursor()).x, PROMPT.length + 10);
  await tty.press("Left", "Left");
  assert.equal((await tty.cursor()).x, PROMPT.length + 7);
  await tty.press("Enter");
  await received(bob, "<ab中字😀>");

  // Up brings the line back; Ctrl-U clears it.
  await tty.press("Up");
  await tty.until((rows) => rows.at(-1) === `${PROMPT}<ab中字😀>`, "the recalled line");
  await tty.press("C-u");
  await tty.until((rows) => rows.at(-1) === PROMPT.trimEnd(), "the cleared line");

  // A line longer than the terminal scrolls sideways instead of wrapping.
  const long = Array.from({ length: 15 }, (_, i) => `${i}`.padEnd(10, "-")).join("");
  await tty.type(long);
  const rows = await tty.until((rows) => rows.at(-1)!.endsWith("14--------"), "the long line");
  const height = rows.length;
  assert.ok(rows.at(-1)!.length < 100, rows.at(-1));
  assert.ok(rows.at(-1)!.startsWith(PROMPT));
  assert.equal((await tty.cursor()).x, rows.at(-1)!.length);
  await tty.press("Home");
  await tty.until((rows) => rows.at(-1)!.startsWith(`${PROMPT}0---------1`), "the line start");
  assert.equal((await tty.rows()).length, height);
  assert.equal((await tty.cursor()).x, PROMPT.length);

  await tty.press("C-c");
  assert.deepEqual(await exited(tty), { code: 0, restored: true });
  await bob.close();
});

Deno.test("users are coloured, own messages styled apart; /quit leaves and restores", async () => {
  await using server = await ServerProcess.start();
  const { client: bob } = await JsonClient.join(server.port, "bob");
  await using tty = await startClient(server.port, { env: { TERM: "xterm-256color" } });
  await bob.request({ type: "message", text: "coloured" });
  await tty.type("mine");
  await tty.press("Enter");
  await tty.until((rows) => rows.some((row) => row.endsWith("alice: mine")), "both messages");
  const styled = (await tty.styledScreen()).split("\n");
  const bobRow = styled.find((row) => row.includes("coloured"))!;
  const ownRow = styled.find((row) => row.includes("mine"))!;
  assert.ok(bobRow.includes("\x1b["), "bob's name is coloured");
  assert.notEqual(
    bobRow.replace(/coloured.*/, "").replace("bob", "X"),
    ownRow.replace(/mine.*/, "").replace("alice", "X"),
    "own messages look different",
  );
  await tty.type("/quit");
  await tty.press("Enter");
  assert.deepEqual(await exited(tty), { code: 0, restored: true });
  await bob.close();
});

Deno.test("NO_COLOR: no colour or style on the screen at all", async () => {
  await using server = await ServerProcess.start();
  const { client: bob } = await JsonClient.join(server.port, "bob");
  await using tty = await startClient(server.port, { env: { NO_COLOR: "1" } });
  await bob.request({ type: "message", text: "plain" });
  await tty.type("mine");
  await tty.press("Enter");
  await tty.until((rows) => rows.some((row) => row.endsWith("alice: mine")), "both messages");
  assert.ok(!(await tty.styledScreen()).includes("\x1b"), await tty.styledScreen());
  await tty.press("C-d");
  assert.deepEqual(await exited(tty), { code: 0, restored: true });
  await bob.close();
});

Deno.test("a server gone for good: the client says so, gives up, exits 1 and restores the terminal", async () => {
  await using server = await ServerProcess.start();
  await using tty = await startClient(server.port, { args: ["--reconnect-timeout", "1"] });
  await tty.type("unsent draft");
  await server.stop();
  const rows = await tty.until(
    (rows) => rows.some((row) => row.includes("giving up")),
    "the give-up message",
  );
  assert.ok(rows.some((row) => row.includes("reconnecting")), rows.join("\n"));
  assert.deepEqual(await exited(tty), { code: 1, restored: true });
});
