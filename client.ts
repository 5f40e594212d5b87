/**
 * The chat client: `chat-client HOST PORT USER` (or `deno task client HOST
 * PORT USER`), the same arguments as the old Python client.
 *
 * In a terminal (stdin and stdout both TTYs) it shows the chat above an
 * input line with editing and history; otherwise it reads messages line by
 * line from stdin and prints plain lines. It speaks the server's JSON
 * protocol and reconnects by itself. `--help` explains the options.
 *
 * Needs `--allow-net` and `--allow-env=NO_COLOR,TERM`; with `--ca FILE`
 * also read access to exactly that file, which it asks for in a terminal
 * (or give `--allow-read=FILE`). Exit codes: 0 after
 * leaving normally, 1 when refused, given up or a message went unconfirmed,
 * 2 for a bad command line, 128 + n after signal n.
 *
 * @module
 */

import { runClient } from "./lib/client/app.ts";
import { CLIENT_USAGE, parseClientArgs, UsageError } from "./lib/client/args.ts";
import { PlainUi, writeAllSync } from "./lib/client/plain_ui.ts";
import { useColor } from "./lib/client/render.ts";
import { TerminalUi } from "./lib/client/terminal_ui.ts";

/** Signals that make the client leave, and their numbers for the exit code. */
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

async function main(args: string[]): Promise<number> {
  let command;
  try {
    command = parseClientArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    writeAllSync(
      Deno.stderr,
      `chat-client: ${error.message}\nUsage: chat-client [options] HOST PORT USER (--help for more)\n`,
    );
    return 2;
  }
  if (command.type === "help") {
    writeAllSync(Deno.stdout, CLIENT_USAGE);
    return 0;
  }
  const { options } = command;
  let caCerts: string[] | undefined;
  if (options.caFile !== undefined) {
    const read = await readCa(options.caFile);
    if (typeof read !== "string") {
      writeAllSync(Deno.stderr, `chat-client: ${read.error}\n`);
      return 2;
    }
    caCerts = [read];
  }

  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  const terminal = interactive
    ? new TerminalUi({
      name: options.user,
      color: useColor(true, (name) => Deno.env.get(name)),
    })
    : null;
  const ui = terminal ?? new PlainUi(Deno.stdin.readable, Deno.stdout, Deno.stderr);

  // The terminal must come back whichever way the process ends.
  const restore = () => terminal?.restore();
  globalThis.addEventListener("unload", restore);
  globalThis.addEventListener("error", restore);
  globalThis.addEventListener("unhandledrejection", restore);

  const stop = new AbortController();
  let caught: keyof typeof SIGNALS | null = null;
  // Windows delivers only SIGINT (and SIGBREAK) to programs.
  const names = Deno.build.os === "windows" ? ["SIGINT"] : Object.keys(SIGNALS);
  const listeners = names.map((name) => {
    const signal = name as keyof typeof SIGNALS;
    const listener = () => {
      caught ??= signal;
      stop.abort();
    };
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });

  try {
    terminal?.start();
    const code = await runClient(options, ui, { signal: stop.signal, caCerts });
    return caught ? 128 + SIGNALS[caught] : code;
  } finally {
    restore();
    for (const remove of listeners) remove();
  }
}

/** The CA file's text, asking for permission to read exactly that file if need be. */
async function readCa(path: string): Promise<string | { error: string }> {
  const { state } = await Deno.permissions.request({ name: "read", path });
  if (state !== "granted") {
    return { error: `no permission to read ${path}; run with --allow-read=${path}` };
  }
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    return { error: `cannot read the CA file ${path}: ${(error as Error).message}` };
  }
}

if (import.meta.main) {
  // Exit explicitly: a read of stdin may still be pending.
  Deno.exit(await main(Deno.args));
}
