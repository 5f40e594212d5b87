/**
 * End-to-end checks of the load generator (`deno task bench`,
 * `tests/bench/load.ts`): it is run as a subprocess, as users run it, against
 * a real server process, with small numbers, and its JSON summary is checked.
 * The checks: a correct server yields a clean report, the run is bounded
 * when the server never answers, bad options exit with status 2, and the
 * latency histogram's percentiles are close to the exact ones.
 */

import assert from "node:assert/strict";
import { BENCH_SERVER_ENV } from "../bench/spawn.ts";
import { LatencyHistogram, summarize } from "../bench/stats.ts";
import { ServerProcess } from "../helpers/server.ts";

const ROOT = new URL("../../", import.meta.url);

/** Runs `deno <args>` in the project root; returns its status and output. */
async function deno(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** The JSON summary: the last line of standard output. */
// deno-lint-ignore no-explicit-any
function summaryOf(stdout: string): any {
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

/** Checks a report of a run that should have been perfect. */
// deno-lint-ignore no-explicit-any
function assertClean(report: any, expected: number): void {
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.equal(report.ended, "complete");
  assert.equal(report.connect.joined, 5);
  assert.equal(report.connect.failed, 0);
  assert.equal(report.send.sent, 50);
  assert.equal(report.deliveries.expected, expected);
  assert.equal(report.deliveries.received, expected);
  assert.equal(report.deliveries.lost, 0);
  assert.equal(report.deliveries.duplicates, 0);
  assert.equal(report.deliveries.outOfOrder, 0);
  assert.deepEqual(report.problems, {
    serverErrors: 0,
    disconnected: 0,
    malformed: 0,
    first: null,
  });
  for (const summary of [report.latencyMs, report.connect.timeMs]) {
    for (const field of ["min", "mean", "p50", "p90", "p99", "max"]) {
      assert.equal(typeof summary[field], "number", `${field} in ${JSON.stringify(summary)}`);
    }
    assert.ok(summary.min >= 0);
    assert.ok(summary.min <= summary.p50);
    assert.ok(summary.p50 <= summary.p90);
    assert.ok(summary.p90 <= summary.p99);
    assert.ok(summary.p99 <= summary.max);
  }
  assert.equal(report.latencyMs.count, expected);
  assert.equal(report.connect.timeMs.count, 5);
}

Deno.test("bench: paced run against a running server, with only --allow-net", async () => {
  await using server = await ServerProcess.start({ env: { ...BENCH_SERVER_ENV } });
  const { code, stdout, stderr } = await deno([
    "run",
    "--allow-net",
    "tests/bench/load.ts",
    "--port",
    String(server.port),
    "--clients",
    "5",
    "--senders",
    "2",
    "--messages",
    "50",
    "--rate",
    "500",
    "--timeout",
    "30",
    "--json",
  ]);
  assert.equal(code, 0, stderr);
  // With --json, standard output is the JSON line alone.
  assert.equal(stdout.trim().split("\n").length, 1, stdout);
  const report = summaryOf(stdout);
  // Each message reaches the 4 clients other than its sender.
  assertClean(report, 50 * 4);
  assert.equal(report.options.rate, 500);
  assert.match(stderr, /ok: every expected delivery arrived once, in order/);
});

Deno.test("bench: deno task bench -- --spawn runs flat out and cleans up", async () => {
  // The spawned server's data directory goes under this one, which must be
  // empty again afterwards.
  const tmp = await Deno.makeTempDir({ prefix: "bench-test-" });
  try {
    const { code, stdout, stderr } = await deno(
      [
        "task",
        "bench",
        // The `--` some users put before a task's arguments is accepted.
        "--",
        "--spawn",
        "--clients",
        "5",
        "--senders",
        "2",
        "--messages",
        "50",
        "--timeout",
        "30",
      ],
      { TMPDIR: tmp },
    );
    assert.equal(code, 0, stderr);
    // Without --json: the summary for people, then the JSON line.
    assert.match(stdout, /^bench run \w+ against 127\.0\.0\.1:\d+, server\.ts/);
    const report = summaryOf(stdout);
    assertClean(report, 50 * 4);
    assert.equal(report.options.rate, 0);
    assert.equal(report.options.spawn, "embedded");
    assert.deepEqual([...Deno.readDirSync(tmp)], []);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("bench: a server that never answers ends the run at --timeout", async () => {
  // Accepts connections and reads nothing: no client ever gets HISTORY_END.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const started = performance.now();
    const { code, stdout, stderr } = await deno([
      "run",
      "--allow-net",
      "tests/bench/load.ts",
      "--port",
      String(listener.addr.port),
      "--clients",
      "3",
      "--messages",
      "10",
      "--timeout",
      "1",
      "--json",
    ]);
    assert.ok(performance.now() - started < 20_000, "the run was not bounded by --timeout");
    assert.equal(code, 1, stderr);
    const report = summaryOf(stdout);
    assert.equal(report.ok, false);
    assert.equal(report.ended, "timeout");
    assert.equal(report.connect.joined, 0);
    assert.equal(report.send.sent, 0);
    assert.match(report.problems.first, /did not join/);
  } finally {
    listener.close();
    await accepting;
    for (const conn of held) conn.close();
  }
});

Deno.test("bench: bad options exit with status 2 and say which", async () => {
  for (
    const [args, message] of [
      [["--clients", "many"], /--clients: expected a whole number/],
      [["--spawn", "--spawn-redis"], /exclude each other/],
      [["--spawn", "--port", "6000"], /--host and --port name a running server/],
      [["--messages", "5", "--clients", "1"], /at least 2 are needed/],
      [["--nope"], /Unknown option '--nope'/],
    ] as const
  ) {
    const { code, stdout, stderr } = await deno(["run", "tests/bench/load.ts", ...args]);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.equal(stdout, "");
    assert.match(stderr, message);
    assert.match(stderr, /Usage: deno task bench/);
  }
});

Deno.test("bench: histogram percentiles are within 0.1 % of the exact ones", () => {
  const histogram = new LatencyHistogram();
  const samples: number[] = [];
  // 0.01 ms to 100 s, spread over seven orders of magnitude.
  for (let i = 0; i < 20_000; i++) {
    const ms = 10 ** (-2 + (7 * ((i * 7919) % 20_000)) / 20_000);
    histogram.record(ms);
    samples.push(ms);
  }
  const approximate = histogram.summary();
  const exact = summarize(samples);
  assert.equal(approximate.count, exact.count);
  for (const field of ["min", "p50", "p90", "p99", "max"] as const) {
    const relative = Math.abs(approximate[field]! - exact[field]!) / exact[field]!;
    assert.ok(relative < 0.001, `${field}: ${approximate[field]} vs exact ${exact[field]}`);
  }
  assert.deepEqual(new LatencyHistogram().summary(), summarize([]));
});
