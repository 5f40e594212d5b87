/**
 * Load generator for the chat server: `deno task bench [options]` (a `--`
 * before the options is accepted too).
 *
 * Opens `--clients` text-protocol connections, has `--senders` of them send
 * `--messages` in total at `--rate` messages per second (0: as fast as the
 * connections take them), and reports connect time, throughput, end-to-end
 * latency percentiles and lost, duplicate and out-of-order deliveries (see
 * `engine.ts` for what is measured and how).
 *
 * It targets a running server (`--host`, `--port`; loopback by default), or
 * starts one itself: `--spawn` runs `server.ts` with the embedded store,
 * `--spawn-redis` with a private `redis-server` (see `spawn.ts`). Whatever it
 * started it stops before exiting, by process handle. The run is bounded:
 * `--timeout` seconds at most, then it reports what is missing; SIGINT and
 * SIGTERM end it early the same way.
 *
 * Output: a human-readable summary and, as the last line, the same figures as
 * one JSON object; with `--json` standard output holds only the JSON line and
 * the summary goes to standard error. Exit status 0 when every expected
 * delivery arrived once and in order with no error, 1 otherwise, 2 for bad
 * options.
 *
 * Against a server with the default per-client rate limit (5 messages/s) a
 * fast sender is refused; lift `RATE_LIMIT` on the server, or use more
 * senders at a lower rate. It speaks only the text protocol.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type LoadOptions, type LoadReport, runLoad } from "./engine.ts";
import type { Summary } from "./stats.ts";

/** The command-line help. */
export const USAGE: string = `Usage: deno task bench [options]

Target (one of):
  --host HOST          server to load                     [127.0.0.1]
  --port N             its chat port                       [6000]
  --spawn              start server.ts (embedded store) on a free port and load it
  --spawn-redis        start redis-server and server.ts on free ports and load them

Load:
  --clients N          connections, all of them receivers  [100]
  --senders S          how many of them send               [10]
  --messages M         messages in total; 0 only joins     [10000]
  --rate R             messages per second in total; 0 = as fast as possible [0]
  --size B             bytes of padding per message        [0]
  --concurrency C      connections joining at once         [100]
  --timeout T          seconds before the run stops itself [60]

Output:
  --json               standard output is only the JSON summary
  -h, --help           show this help
`;

/** The parsed command line. */
export interface BenchOptions extends Omit<LoadOptions, "signal" | "progress"> {
  /** Start a local server with the embedded store (`"embedded"`) or Redis. */
  spawn: "embedded" | "redis" | null;
  /** Print only the JSON summary on standard output. */
  json: boolean;
}

/** A command line that cannot be run. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Each message's seen/unseen bit is kept per receiver; refuse runs whose
 * bitmaps would not fit comfortably in memory.
 */
const MAX_BITMAP_BYTES = 512 * 1024 * 1024;

/**
 * Parses and checks the command line.
 *
 * @param args the arguments after the script name.
 * @returns the options, or `"help"` when help was asked for.
 * @throws {UsageError} naming the option that is wrong.
 */
export function parseOptions(args: string[]): BenchOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      // `deno task bench -- --clients 5` passes the `--` on; it separates the
      // task's arguments from deno's, not options from positionals here.
      args: args[0] === "--" ? args.slice(1) : args,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        clients: { type: "string" },
        senders: { type: "string" },
        messages: { type: "string" },
        rate: { type: "string" },
        size: { type: "string" },
        concurrency: { type: "string" },
        timeout: { type: "string" },
        spawn: { type: "boolean" },
        "spawn-redis": { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return "help";

  const integer = (
    name: string,
    raw: string | undefined,
    fallback: number,
    min: number,
    max: number,
  ) => {
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new UsageError(
        `--${name}: expected a whole number from ${min} to ${max}, got "${raw}"`,
      );
    }
    return Number(raw);
  };
  const decimal = (name: string, raw: string | undefined, fallback: number, max: number) => {
    if (raw === undefined) return fallback;
    if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) > max) {
      throw new UsageError(`--${name}: expected a number from 0 to ${max}, got "${raw}"`);
    }
    return Number(raw);
  };

  if (values.spawn && values["spawn-redis"]) {
    throw new UsageError("--spawn and --spawn-redis exclude each other");
  }
  const spawn = values.spawn ? "embedded" : values["spawn-redis"] ? "redis" : null;
  if (spawn && (values.host !== undefined || values.port !== undefined)) {
    throw new UsageError(
      `--host and --port name a running server; --spawn${
        spawn === "redis" ? "-redis" : ""
      } starts its own`,
    );
  }
  const host = values.host ?? "127.0.0.1";
  if (host === "") throw new UsageError("--host: expected a host name or address");
  const port = integer("port", values.port, 6000, 1, 65535);
  const clients = integer("clients", values.clients, 100, 1, 50_000);
  const messages = integer("messages", values.messages, 10_000, 0, 10_000_000);
  if (messages > 0 && clients < 2) {
    throw new UsageError("--clients: at least 2 are needed for anyone to receive a message");
  }
  const senders = integer(
    "senders",
    values.senders,
    Math.min(10, clients),
    messages > 0 ? 1 : 0,
    clients,
  );
  const bitmapBytes = clients * Math.ceil(messages / 8);
  if (bitmapBytes > MAX_BITMAP_BYTES) {
    throw new UsageError(
      `--clients x --messages is too large: the delivery bookkeeping would take ` +
        `${Math.ceil(bitmapBytes / 2 ** 20)} MiB (at most ${MAX_BITMAP_BYTES / 2 ** 20})`,
    );
  }
  const timeout = decimal("timeout", values.timeout, 60, 86_400);
  if (timeout === 0) throw new UsageError("--timeout: expected more than 0 seconds");

  return {
    host,
    port,
    clients,
    senders,
    messages,
    rate: decimal("rate", values.rate, 0, 10_000_000),
    size: integer("size", values.size, 0, 0, 1_048_576),
    timeoutMs: Math.round(timeout * 1000),
    concurrency: integer("concurrency", values.concurrency, 100, 1, 50_000),
    spawn,
    json: values.json ?? false,
  };
}

/**
 * The report as text for people.
 *
 * @param report what the run measured.
 * @param options what it was asked to do.
 * @param server what was measured, e.g. `127.0.0.1:6000` or a spawned server.
 */
export function formatReport(report: LoadReport, options: BenchOptions, server: string): string {
  const n = (value: number) => value.toLocaleString("en-US");
  const ms = (value: number | null) => value === null ? "-" : value.toFixed(value < 10 ? 2 : 1);
  const summary = (s: Summary) =>
    s.count === 0
      ? "none"
      : `p50 ${ms(s.p50)}  p90 ${ms(s.p90)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  ` +
        `(mean ${ms(s.mean)}, n=${n(s.count)})`;
  const { connect, send, deliveries: d, latencyMs, generator, problems } = report;
  const rate = options.rate > 0 ? `${n(options.rate)} msg/s` : "flat out";
  const cpuMs = Math.round(generator.userCpuMs + generator.systemCpuMs);
  const verdict = report.ok ? "ok: every expected delivery arrived once, in order" : [
    `NOT OK (${report.ended}): ${n(d.lost)} lost`,
    report.ended === "complete" ? "" : " or still on the way",
    `, ${n(d.duplicates)} duplicate, ${n(d.outOfOrder)} out of order`,
    `, ${n(problems.serverErrors)} server errors, ${n(problems.disconnected)} disconnected`,
    `, ${n(problems.malformed)} malformed`,
  ].join("");
  const lines = [
    `bench run ${report.run} against ${server}`,
    `  load        ${n(options.clients)} clients, ${n(options.senders)} senders, ` +
    `${n(options.messages)} messages, ${rate}, ${n(options.size)} B padding`,
    `  result      ${verdict}`,
    `  joined      ${n(connect.joined)} (${n(connect.failed)} failed) ` +
    `in ${ms(connect.wallMs)} ms, ${n(connect.perSecond)}/s`,
    `  connect ms  ${summary(connect.timeMs)}  [connect -> HISTORY_END]`,
  ];
  if (options.messages > 0) {
    lines.push(
      `  sent        ${n(send.sent)} messages in ${ms(send.wallMs)} ms, ${n(send.perSecond)}/s`,
      `  delivered   ${n(d.received)} of ${n(d.expected)} in ${ms(d.wallMs)} ms, ` +
        `${n(d.perSecond)}/s`,
      `  latency ms  ${summary(latencyMs)}`,
      `  generator   ${n(cpuMs)} ms CPU (${n(Math.round(generator.systemCpuMs))} system) ` +
        `in ${ms(d.wallMs)} ms, ${n(generator.reads)} reads`,
    );
  }
  if (problems.first) lines.push(`  first problem: ${problems.first}`);
  return lines.join("\n");
}

/** Runs the command line; returns the exit status. */
async function main(args: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    const parsed = parseOptions(args);
    if (parsed === "help") {
      console.log(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  const note = (text: string) => console.error(`bench: ${text}`);

  // SIGINT/SIGTERM end the run early but still stop what was spawned.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  try {
    let target: (AsyncDisposable & { host: string; port: number; description: string }) | null =
      null;
    if (options.spawn) {
      note(`starting ${options.spawn === "redis" ? "redis-server and " : ""}server.ts`);
      try {
        // Imported only here, so that a copy of this directory alone (for
        // example in a Kubernetes Job) runs without the test helpers.
        const { spawnTarget } = await import("./spawn.ts");
        target = await spawnTarget(options.spawn === "redis");
      } catch (error) {
        console.error(`bench: could not start the server: ${(error as Error).message}`);
        return 1;
      }
    }
    try {
      if (interrupt.signal.aborted) return 130;
      const host = target?.host ?? options.host;
      const port = target?.port ?? options.port;
      const report = await runLoad({
        ...options,
        host,
        port,
        signal: interrupt.signal,
        progress: note,
      });
      const server = target ? `${host}:${port}, ${target.description}` : `${host}:${port}`;
      const json = JSON.stringify({ ...report, server, options: publicOptions(options) });
      if (options.json) {
        console.error(formatReport(report, options, server));
        console.log(json);
      } else {
        console.log(`${formatReport(report, options, server)}\n${json}`);
      }
      return report.ok ? 0 : 1;
    } finally {
      if (target) {
        note("stopping the spawned server");
        await target[Symbol.asyncDispose]();
      }
    }
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
}

/** The options as given, for the JSON summary. */
function publicOptions(options: BenchOptions): Record<string, unknown> {
  const { timeoutMs, json: _json, host, port, ...rest } = options;
  // A spawned server's address is in `server`; --host/--port were not used.
  const target = options.spawn ? {} : { host, port };
  return { ...target, ...rest, timeout: timeoutMs / 1000 };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
