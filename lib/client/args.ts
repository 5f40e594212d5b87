/**
 * The chat client's command line: `HOST PORT USER` as the old Python client
 * took them, plus options. Every value is checked here, and the user name
 * with the server's own rule, so that a bad one is refused before connecting.
 *
 * It only parses; printing the message and the exit code are the caller's.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { COMMAND_USAGE } from "../protocol/commands.ts";
import { nameProblem } from "../protocol/names.ts";

/** Said wherever the client lists its commands: keys leave too. */
export const LEAVE_KEYS = "Ctrl-D and Ctrl-C leave too";

/** What the client was asked to do. */
export interface ClientOptions {
  host: string;
  port: number;
  user: string;
  /** How long to keep trying to reconnect after the connection drops; 0 does not retry. */
  reconnectTimeoutMs: number;
  /** Connect over TLS. */
  tls: boolean;
  /** PEM file of the CA to trust for TLS instead of the system's; implies `tls`. */
  caFile?: string;
}

/** The parsed command line. */
export type ClientCommand =
  | { type: "help" }
  | { type: "run"; options: ClientOptions };

/** The command line is wrong; the message says how, for people. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Default of `--reconnect-timeout`, in seconds. */
export const DEFAULT_RECONNECT_TIMEOUT_S = 120;

/** The `--help` text. */
export const CLIENT_USAGE: string = `Usage: chat-client [options] HOST PORT USER

Connects to the chat server at HOST:PORT as USER. In a terminal you get an
input line that incoming messages never break; otherwise every line read from
standard input is sent as a message and events are printed as plain lines.

Arguments:
  HOST                      server name or address, e.g. localhost
  PORT                      server port, 1-65535, e.g. 6000
  USER                      your name: 1-32 letters, digits, '_', '.' or '-'

Options:
  --reconnect-timeout SECONDS
                            how long to keep reconnecting after the connection
                            drops before giving up (default ${DEFAULT_RECONNECT_TIMEOUT_S}; 0 = never
                            retry)
  --tls                     connect over TLS (the server's TLS_PORT, e.g. 6697)
  --ca FILE                 trust the CA certificate in FILE (PEM) instead of
                            the system's; implies --tls. Needs read access to
                            FILE: asked for in a terminal, or --allow-read=FILE
  -h, --help                show this help

Commands while chatting (as /help lists them):
${COMMAND_USAGE.map((line) => `  ${line}\n`).join("")}  ${LEAVE_KEYS}

A password left out of /register, /login, /passwd or /unregister is asked for
without echo. Lines with passwords are never kept in the line history. When
USER is registered, the client asks for its password before joining.

Environment:
  NO_COLOR                  when set and not empty, print no colours

Exit status: 0 after leaving normally, 1 when the server refused or dropped
the connection for good or a message could not be sent, 2 for a bad command
line.
`;

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} with a message naming the wrong argument.
 *
 * @example
 * ```ts
 * parseClientArgs(["localhost", "6000", "alice"]);
 * // { type: "run", options: { host: "localhost", port: 6000, user: "alice", reconnectTimeoutMs: 120000, tls: false } }
 * ```
 */
export function parseClientArgs(args: readonly string[]): ClientCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: "boolean", short: "h" },
        "reconnect-timeout": { type: "string" },
        tls: { type: "boolean" },
        ca: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help) return { type: "help" };

  const [host, port, user, ...extra] = parsed.positionals;
  if (user === undefined) {
    const missing = ["HOST", "PORT", "USER"].slice(parsed.positionals.length).join(", ");
    throw new UsageError(`missing ${missing}`);
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
  if (host.trim() === "") throw new UsageError("HOST is empty");
  const problem = nameProblem(user);
  if (problem !== null) throw new UsageError(`invalid USER ${JSON.stringify(user)}: ${problem}`);

  return {
    type: "run",
    options: {
      host,
      port: parsePort(port),
      user,
      reconnectTimeoutMs: parseSeconds(parsed.values["reconnect-timeout"]),
      ...tlsOptions(parsed.values.tls, parsed.values.ca),
    },
  };
}

function tlsOptions(tls: boolean | undefined, ca: string | undefined) {
  if (ca === undefined) return { tls: tls === true };
  if (ca.trim() === "") throw new UsageError("--ca needs a file name");
  return { tls: true, caFile: ca };
}

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new UsageError(`invalid PORT ${JSON.stringify(text)}: expected a number from 1 to 65535`);
  }
  return port;
}

function parseSeconds(text: string | undefined): number {
  if (text === undefined) return DEFAULT_RECONNECT_TIMEOUT_S * 1000;
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds <= 7 * 24 * 3600)) {
    throw new UsageError(
      `invalid --reconnect-timeout ${JSON.stringify(text)}: expected seconds, 0 to 604800`,
    );
  }
  return Math.round(seconds * 1000);
}
