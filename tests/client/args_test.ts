/**
 * The client's command line: the old client's positional arguments, the
 * options, and a clear UsageError for everything wrong.
 */

import assert from "node:assert/strict";
import { CLIENT_USAGE, parseClientArgs, UsageError } from "../../lib/client/args.ts";

Deno.test("HOST PORT USER as the old client took them", () => {
  assert.deepEqual(parseClientArgs(["localhost", "6000", "alice"]), {
    type: "run",
    options: {
      host: "localhost",
      port: 6000,
      user: "alice",
      reconnectTimeoutMs: 120_000,
      tls: false,
    },
  });
});

Deno.test("--reconnect-timeout takes seconds, before or after the arguments", () => {
  const options = (args: string[]) => {
    const command = parseClientArgs(args);
    assert.equal(command.type, "run");
    return command.options;
  };
  assert.equal(options(["--reconnect-timeout", "2.5", "h", "1", "bob"]).reconnectTimeoutMs, 2500);
  assert.equal(options(["h", "1", "bob", "--reconnect-timeout=0"]).reconnectTimeoutMs, 0);
});

Deno.test("--help and -h ask for the usage, which names the arguments", () => {
  assert.deepEqual(parseClientArgs(["--help"]), { type: "help" });
  assert.deepEqual(parseClientArgs(["localhost", "-h"]), { type: "help" });
  assert.match(CLIENT_USAGE, /chat-client \[options\] HOST PORT USER/);
  assert.match(CLIENT_USAGE, /--reconnect-timeout/);
});

Deno.test("missing, extra and unknown arguments are usage errors naming the problem", () => {
  const cases: [string[], RegExp][] = [
    [[], /missing HOST, PORT, USER/],
    [["localhost"], /missing PORT, USER/],
    [["localhost", "6000"], /missing USER/],
    [["localhost", "6000", "alice", "extra"], /unexpected argument: extra/],
    [["--verbose", "localhost", "6000", "alice"], /verbose/],
    [["localhost", "6000", "alice", "--reconnect-timeout"], /reconnect-timeout/],
    [["", "6000", "alice"], /HOST is empty/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseClientArgs(args), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${args}: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("ports outside 1-65535 or not numbers are refused", () => {
  for (const port of ["0", "65536", "abc", "60.5", "6000x", " 6000", "1e3", "999999"]) {
    assert.throws(
      () => parseClientArgs(["localhost", port, "alice"]),
      (error: unknown) => error instanceof UsageError && /invalid PORT/.test(error.message),
      port,
    );
  }
  // "-1" reads as an option, which is refused too.
  assert.throws(() => parseClientArgs(["localhost", "-1", "alice"]), UsageError);
  assert.equal(
    (parseClientArgs(["h", "65535", "a"]) as { options: { port: number } }).options.port,
    65535,
  );
});

Deno.test("user names the server would refuse are refused here with its reason", () => {
  for (const user of ["{json}", "a b", "x".repeat(33), "\u0301a", "bad\x1bname", "é\u202e"]) {
    assert.throws(
      () => parseClientArgs(["localhost", "6000", user]),
      (error: unknown) => error instanceof UsageError && /invalid USER/.test(error.message),
      JSON.stringify(user),
    );
  }
  assert.equal(parseClientArgs(["h", "1", "名前_1.x-y"]).type, "run");
});

Deno.test("reconnect timeouts that are not seconds from 0 to a week are refused", () => {
  for (const value of ["-1", "abc", "1e3", "604801", "", "Infinity"]) {
    assert.throws(
      () => parseClientArgs(["h", "1", "a", "--reconnect-timeout", value]),
      (error: unknown) => error instanceof UsageError && /--reconnect-timeout/.test(error.message),
      value,
    );
  }
});

Deno.test("--help fits in 80 columns", () => {
  for (const line of CLIENT_USAGE.split("\n")) {
    assert.ok(line.length <= 80, `${line.length}: ${line}`);
  }
});
