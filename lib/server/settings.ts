/**
 * The server's settings in one table: for each, its environment variable,
 * flag, default, parser and meaning. Everything else is derived from the
 * table: the list of variables the server reads ({@linkcode ENV_VARS}), the
 * `--help` text ({@linkcode USAGE}) and the README's configuration table (a
 * test keeps them equal); `config.ts` derives the command-line options, the
 * defaults and errors naming the variable or flag a bad value came from.
 *
 * It does not read the environment or the command line, and does not combine
 * settings (the Redis URL, the soft queue limit below the hard one, the
 * history replay capped by the limit): that is `config.ts`'s job.
 *
 * @module
 */

import {
  decimal,
  historyKey,
  hostPorts,
  InvalidValue,
  masterName,
  oneOf,
  portOrOff,
  seconds,
  text,
  whole,
} from "./setting_parsers.ts";

import { parseOrigins } from "./origins.ts";

/** One row of the settings table. */
export interface Setting<T> {
  /** The environment variable. */
  readonly env: string;
  /** The flag without its dashes; none when only the variable sets it. */
  readonly flag?: string;
  /** The placeholder `--help` shows after the flag, e.g. `N`. */
  readonly placeholder?: string;
  /** Whether a bare command-line argument sets it too (the port, as the old server took it). */
  readonly positional?: boolean;
  /** The default as a user would write it, parsed like any value; none when unset. */
  readonly default?: string;
  /** How the documentation shows the default (Markdown), when not simply `default`. */
  readonly shownDefault?: string;
  /** What it means (Markdown), as the README's table and `--help` show it. */
  readonly help: string;
  /** Turns the text into the value; throws {@linkcode InvalidValue} when unusable. */
  readonly parse: (raw: string) => T;
}

/** Every setting, in the order `--help` and the README list them. */
export const SETTINGS = {
  PORT: {
    env: "PORT",
    flag: "port",
    placeholder: "N",
    positional: true,
    default: "6000",
    help: "plain-text chat port; `off` for none (TLS only)",
    parse: portOrOff,
  },
  TLS_PORT: {
    env: "TLS_PORT",
    flag: "tls-port",
    placeholder: "N",
    default: "6697",
    help: "TLS chat port, used when `TLS_CERT` and `TLS_KEY` are set",
    parse: whole(0, 65535),
  },
  TLS_CERT: {
    env: "TLS_CERT",
    help: "PEM certificate chain file; with `TLS_KEY` turns TLS on (re-read on SIGHUP)",
    parse: text,
  },
  TLS_KEY: { env: "TLS_KEY", help: "PEM private key file of `TLS_CERT`", parse: text },
  HOST: {
    env: "HOST",
    flag: "host",
    placeholder: "ADDR",
    default: "0.0.0.0",
    help: "address to bind",
    parse: text,
  },
  HTTP_PORT: {
    env: "HTTP_PORT",
    flag: "http-port",
    placeholder: "N",
    default: "8080",
    help: "health, readiness and metrics port (`0`: any free one)",
    parse: whole(0, 65535),
  },
  WEB_PORT: {
    env: "WEB_PORT",
    flag: "web-port",
    placeholder: "N",
    default: "8000",
    help: "browser page and its WebSocket (`0`: any free one)",
    parse: whole(0, 65535),
  },
  REDIS_URL: {
    env: "REDIS_URL",
    flag: "redis-url",
    placeholder: "URL",
    help: "`redis://` or `rediss://` URL; enables the Redis store",
    parse: text,
  },
  REDIS_HOST: { env: "REDIS_HOST", help: "Redis host; enables the Redis store", parse: text },
  REDIS_PORT: {
    env: "REDIS_PORT",
    shownDefault: "`6379`",
    help: "Redis port",
    parse: whole(1, 65535),
  },
  REDIS_USER: { env: "REDIS_USER", help: "Redis ACL user", parse: text },
  REDIS_PASSWORD: { env: "REDIS_PASSWORD", help: "Redis password (never logged)", parse: text },
  REDIS_SENTINELS: {
    env: "REDIS_SENTINELS",
    help: "Sentinels as `host:port,...`: find the master through them",
    parse: hostPorts,
  },
  REDIS_SENTINEL_MASTER: {
    env: "REDIS_SENTINEL_MASTER",
    shownDefault: "`mymaster`",
    help: "the master's name in the Sentinel configuration",
    parse: masterName,
  },
  REDIS_CLUSTER_NODES: {
    env: "REDIS_CLUSTER_NODES",
    help: "Redis Cluster seed nodes as `host:port,...`",
    parse: hostPorts,
  },
  REDIS_MIN_REPLICAS_ACK: {
    env: "REDIS_MIN_REPLICAS_ACK",
    shownDefault: "0 (off)",
    help: "replicas that must have a message before it is receipted",
    parse: whole(0, 100),
  },
  REDIS_CA: {
    env: "REDIS_CA",
    help: "PEM file of the CA that signed Redis's certificate (`rediss://`)",
    parse: text,
  },
  CHAT_DATA: {
    env: "CHAT_DATA",
    flag: "data",
    placeholder: "DIR",
    default: "data",
    help: "embedded store directory (used only without Redis)",
    parse: text,
  },
  HISTORY_KEY: {
    env: "HISTORY_KEY",
    flag: "history-key",
    placeholder: "NAME",
    default: "chat_history",
    help: "Redis list holding the history",
    parse: historyKey,
  },
  HISTORY_LIMIT: {
    env: "HISTORY_LIMIT",
    flag: "history-limit",
    placeholder: "N",
    default: "10000",
    help: "messages kept",
    parse: whole(1, 10_000_000),
  },
  HISTORY_REPLAY: {
    env: "HISTORY_REPLAY",
    flag: "history-replay",
    placeholder: "N",
    shownDefault: "all kept",
    help: "newest messages sent to a joining client",
    parse: whole(0, 10_000_000),
  },
  MAX_LINE_BYTES: {
    env: "MAX_LINE_BYTES",
    flag: "max-line-bytes",
    placeholder: "N",
    default: "4096",
    help: "longest accepted line, in bytes",
    parse: whole(64, 1_048_576),
  },
  HANDSHAKE_TIMEOUT: {
    env: "HANDSHAKE_TIMEOUT",
    flag: "handshake-timeout",
    placeholder: "S",
    default: "10",
    help: "seconds a new connection has to send its name",
    parse: seconds(0.1, 3600),
  },
  QUEUE_LIMIT: {
    env: "QUEUE_LIMIT",
    flag: "queue-limit",
    placeholder: "BYTES",
    default: "1048576",
    help: "bytes waiting for one client before it is disconnected",
    parse: whole(4096, 1_073_741_824),
  },
  QUEUE_SOFT_LIMIT: {
    env: "QUEUE_SOFT_LIMIT",
    flag: "queue-soft-limit",
    placeholder: "BYTES",
    default: "262144",
    help: "bytes that may wait only for `QUEUE_SOFT_SECONDS`",
    parse: whole(1024, 1_073_741_824),
  },
  QUEUE_SOFT_SECONDS: {
    env: "QUEUE_SOFT_SECONDS",
    flag: "queue-soft-seconds",
    placeholder: "S",
    default: "10",
    help: "how long a client may stay above the soft limit",
    parse: seconds(0, 3600),
  },
  MAX_CONNECTIONS: {
    env: "MAX_CONNECTIONS",
    flag: "max-connections",
    placeholder: "N",
    default: "10000",
    help: "simultaneous connections",
    parse: whole(1, 1_000_000),
  },
  MAX_CONNECTIONS_PER_IP: {
    env: "MAX_CONNECTIONS_PER_IP",
    flag: "max-connections-per-ip",
    placeholder: "N",
    default: "10",
    help: "simultaneous connections from one address (IPv6: one /64)",
    parse: whole(1, 1_000_000),
  },
  TRUSTED_NETWORKS: {
    env: "TRUSTED_NETWORKS",
    flag: "trusted-networks",
    placeholder: "CIDRS",
    // The value itself is the connection limiter's; config.ts applies and checks it.
    shownDefault: "`127.0.0.0/8,::1/128`",
    help: "CIDRs exempt from the per-address limit; `none` for none",
    parse: text,
  },
  ALLOWED_ORIGINS: {
    env: "ALLOWED_ORIGINS",
    flag: "allowed-origins",
    placeholder: "LIST",
    shownDefault: "the page's own",
    help: "origins besides the page's own whose pages may open the WebSocket",
    parse: (raw: string): string[] => parseOrigins(raw, (problem) => new InvalidValue(problem)),
  },
  RATE_LIMIT: {
    env: "RATE_LIMIT",
    flag: "rate-limit",
    placeholder: "N",
    default: "5",
    help: "lines per second one client may send, on average",
    parse: decimal(0.01, 1_000_000, "a number"),
  },
  RATE_BURST: {
    env: "RATE_BURST",
    flag: "rate-burst",
    placeholder: "N",
    default: "10",
    help: "lines at once before the rate applies",
    parse: whole(1, 1_000_000),
  },
  NOTICE_ROOM_LIMIT: {
    env: "NOTICE_ROOM_LIMIT",
    flag: "notice-room-limit",
    placeholder: "N",
    default: "100",
    help: "members on this replica above which joins and leaves are summarised",
    parse: whole(0, 10_000_000),
  },
  PRESENCE_TTL: {
    env: "PRESENCE_TTL",
    flag: "presence-ttl",
    placeholder: "S",
    default: "30",
    help: "seconds a crashed replica's users stay listed online",
    parse: seconds(3, 3600),
  },
  SHUTDOWN_GRACE: {
    env: "SHUTDOWN_GRACE",
    flag: "shutdown-grace",
    placeholder: "S",
    default: "20",
    help: "seconds clients get to drain their output on shutdown",
    parse: seconds(0, 3600),
  },
  LOG_LEVEL: {
    env: "LOG_LEVEL",
    flag: "log-level",
    placeholder: "LEVEL",
    default: "info",
    help: "`debug`, `info`, `warn` or `error`",
    parse: oneOf("info", "debug", "warn", "error"),
  },
  LOG_FORMAT: {
    env: "LOG_FORMAT",
    flag: "log-format",
    placeholder: "FORMAT",
    default: "text",
    help: "`text` for people, `json` for one object per line",
    parse: oneOf("text", "json"),
  },
} as const satisfies Record<string, Setting<unknown>>;

/** The name of a setting: its environment variable. */
export type SettingName = keyof typeof SETTINGS;

/** The parsed value of setting `N`. */
export type SettingValue<N extends SettingName> = ReturnType<typeof SETTINGS[N]["parse"]>;

const ROWS: readonly Setting<unknown>[] = Object.values(SETTINGS);

/** The environment variables the server reads, and nothing else. */
export const ENV_VARS: readonly string[] = ROWS.map((setting) => setting.env);

/** How the documentation shows a setting's default (Markdown). */
export function shownDefault(setting: Setting<unknown>): string {
  if (setting.shownDefault !== undefined) return setting.shownDefault;
  return setting.default === undefined ? "unset" : `\`${setting.default}\``;
}

/** Columns of `--help`, and where the descriptions start. */
const HELP_WIDTH = 80;
const HELP_INDENT = 31;

/** One `--help` entry: `left`, then `text` wrapped to fit the help's columns. */
function helpEntry(left: string, text: string): string {
  const lines: string[] = [];
  let line = `  ${left.padEnd(HELP_INDENT - 3)}`;
  let empty = true;
  for (const word of text.split(" ")) {
    if (!empty && line.length + 1 + word.length > HELP_WIDTH) {
      lines.push(line);
      line = " ".repeat(HELP_INDENT - 1);
    }
    line += ` ${word}`;
    empty = false;
  }
  return [...lines, line].join("\n");
}

function usage(): string {
  const plain = (markdown: string) => markdown.replaceAll("`", "");
  const line = (left: string, setting: Setting<unknown>, bracket: string) =>
    helpEntry(left, `${plain(setting.help)} [${bracket}]`);
  const shown = (setting: Setting<unknown>) => plain(shownDefault(setting));
  return [
    "Usage: chat-server [PORT] [options]",
    "",
    "Options (each overrides the environment variable in brackets, shown with its",
    "default):",
    ...ROWS.filter((s) => s.flag !== undefined).map((s) =>
      line(`--${s.flag} ${s.placeholder}`, s, `${s.env}, ${shown(s)}`)
    ),
    helpEntry("-h, --help", "show this help"),
    "",
    "Environment only (default in brackets):",
    ...ROWS.filter((s) => s.flag === undefined).map((s) => line(s.env, s, shown(s))),
    "",
  ].join("\n");
}

/** The text `--help` prints. */
export const USAGE: string = usage();
