/**
 * The chat client end to end in plain (pipe) mode against a real server
 * process: scripted input is sent and confirmed before the client leaves,
 * output has no escape sequences, commands and errors, exit codes.
 *
 * The terminal UI is tested in `client_tty_test.ts`.
 */

import assert from "node:assert/strict";
import { JsonClient, TextClient } from "../helpers/client.ts";
import { ClientProcess } from "../helpers/client_process.ts";
import { freePort } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

const TIME = String.raw`\d\d:\d\d`;

/** The texts of every message the server has stored, oldest first. */
async function storedTexts(port: number): Promise<string[]> {
  const { client, history } = await JsonClient.join(port, "auditor");
  await client.close();
  return history.filter((event) => event.type === "message").map((event) =>
    `${event.user}: ${event.text}`
  );
}

Deno.test("printf 'hi\\nexit\\n' | chat-client sends hi, exits 0, and another client sees it", async () => {
  await using server = await ServerProcess.start();
  const { client: watcher } = await TextClient.join(server.port, "watcher");
  await using client = await ClientProcess.start(["127.0.0.1", String(server.port), "bot"]);
  await client.write("hi\nexit\n");
  const status = await client.exit();
  assert.equal(status.code, 0, client.stderr);
  assert.equal(await watcher.nextMessage(), "[bot]: hi");
  await watcher.close();
  assert.match(client.stdout, new RegExp(`^${TIME} bot: hi\n$`));
  assert.ok(!client.stdout.includes("\x1b") && !client.stderr.includes("\x1b"));
  assert.deepEqual(await storedTexts(server.port), ["bot: hi"]);
});

Deno.test("end of input leaves after every line got its receipt, in order, beyond the rate limit", async () => {
  await using server = await ServerProcess.start();
  await using client = await ClientProcess.start(["127.0.0.1", String(server.port), "bot"]);
  // More lines than the server's default burst of 10: the client paces itself on slow_down.
  const lines = Array.from({ length: 14 }, (_, i) => `line ${i + 1}`);
  await client.write(lines.map((line) => `${line}\n`).join(""));
  await client.closeStdin();
  const status = await client.exit(30_000);
  assert.equal(status.code, 0, client.stderr);
  assert.deepEqual(await storedTexts(server.port), lines.map((line) => `bot: ${line}`));
  const shown = client.stdout.trimEnd().split("\n").map((line) => line.replace(/^\S+ /, ""));
  assert.deepEqual(shown, lines.map((line) => `bot: ${line}`));
  assert.ok(!client.stderr.includes("not sent"), client.stderr);
});

Deno.test("history and live messages print as plain lines with no escape sequence", async () => {
  await using server = await ServerProcess.start();
  const { client: carol } = await TextClient.join(server.port, "carol");
  await carol.send("before \x1b[31mred\x1b[0m");
  await carol.sync();
  await using client = await ClientProcess.start(["127.0.0.1", String(server.port), "bot"]);
  await client.until((out) => out.includes("before"), "the history");
  await carol.send("live \x07 message");
  await client.until((out) => out.includes("live"), "the live message");
  await carol.close();
  await client.until((out) => out.includes("carol left"), "the leave notice");
  await client.write("exit\n");
  assert.equal((await client.exit()).code, 0);
  const lines = client.stdout.trimEnd().split("\n");
  assert.match(lines[0], new RegExp(`^${TIME} carol: before \\[31mred\\[0m$`));
  assert.match(lines[1], new RegExp(`^${TIME} carol: live  message$`));
  assert.match(lines[2], new RegExp(`^${TIME} \\* carol left$`));
  assert.ok(!client.stdout.includes("\x1b") && !client.stderr.includes("\x1b"));
  assert.match(client.stderr, /connected to 127\.0\.0\.1:\d+ as bot/);
});

Deno.test("/who lists users, /help the commands; unknown commands are not sent; //x sends /x", async () => {
  await using server = await ServerProcess.start();
  const { client: carol } = await TextClient.join(server.port, "carol");
  await using client = await ClientProcess.start(["127.0.0.1", String(server.port), "bot"]);
  await client.write("/who\n/help\n/nope\n//slash\n/quit\n");
  assert.equal((await client.exit()).code, 0, client.stderr);
  await carol.close();
  assert.match(client.stdout, /\* online \(2\): bot, carol\n/);
  assert.match(client.stderr, /\/who +who is online/);
  assert.match(client.stderr, /Ctrl-D and Ctrl-C leave too/);
  assert.match(client.stderr, /! unknown command \/nope; \/help lists them/);
  assert.deepEqual(await storedTexts(server.port), ["bot: /slash"]);
});

Deno.test("bad arguments: a clear message on stderr and exit code 2, no connection tried", async () => {
  const cases: [string[], RegExp][] = [
    [[], /missing HOST, PORT, USER/],
    [["localhost", "70000", "alice"], /invalid PORT "70000"/],
    [["localhost", "6000", "bad name"], /invalid USER "bad name"/],
    [["localhost", "6000", "alice", "--bogus"], /bogus/],
  ];
  for (const [args, message] of cases) {
    await using client = await ClientProcess.start(args);
    const status = await client.exit();
    assert.equal(status.code, 2, `${args}: ${client.stderr}`);
    assert.match(client.stderr, message);
    assert.match(client.stderr, /Usage: chat-client/);
    assert.equal(client.stdout, "");
  }
  await using help = await ClientProcess.start(["--help"]);
  assert.equal((await help.exit()).code, 0);
  assert.match(help.stdout, /Usage: chat-client \[options\] HOST PORT USER/);
});

Deno.test("no server: says it cannot connect and exits 1", async () => {
  const port = await freePort();
  await using client = await ClientProcess.start(["127.0.0.1", String(port), "bot"]);
  const status = await client.exit();
  assert.equal(status.code, 1);
  assert.match(client.stderr, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`));
});

Deno.test("a name already online is refused at start with the server's reason and exit 1", async () => {
  await using server = await ServerProcess.start();
  const { client: first } = await JsonClient.join(server.port, "alice");
  await using client = await ClientProcess.start(["127.0.0.1", String(server.port), "alice"]);
  const status = await client.exit();
  await first.close();
  assert.equal(status.code, 1);
  assert.match(client.stderr, /! .*alice/);
});

Deno.test("SIGTERM makes the client leave cleanly with 128 + 15", async () => {
  await using server = await ServerProcess.start();
  const { client: watcher } = await TextClient.join(server.port, "watcher");
  await using client = await ClientProcess.start(["127.0.0.1", String(server.port), "bot"]);
  await watcher.readUntil("* bot joined");
  client.kill("SIGTERM");
  assert.equal((await client.exit()).code, 143);
  await watcher.readUntil("* bot left");
  await watcher.close();
});
