/**
 * Server configuration: read from the environment first (as Compose and
 * Kubernetes set it), then overridden by command-line flags, and validated as
 * a whole before anything starts.
 *
 * This module only parses and validates; it opens no sockets and no files.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { RedisConfig } from "../store/redis_connection.ts";
import { DEFAULT_TRUSTED, parseNetworks } from "./connection_limiter.ts";

/** The environment variables the server reads, and nothing else. */
export const ENV_VARS: readonly string[] = [
  "PORT",
  "HOST",
  "HTTP_PORT",
  "REDIS_URL",
  "REDIS_HOST",
  "REDIS_PORT",
  "REDIS_USER",
  "REDIS_PASSWORD",
  "REDIS_SENTINELS",
  "REDIS_SENTINEL_MASTER",
  "REDIS_CLUSTER_NODES",
  "REDIS_MIN_REPLICAS_ACK",
  "CHAT_DATA",
  "HISTORY_KEY",
  "HISTORY_LIMIT",
  "HISTORY_REPLAY",
  "MAX_LINE_BYTES",
  "HANDSHAKE_TIMEOUT",
  "QUEUE_LIMIT",
  "QUEUE_SOFT_LIMIT",
  "QUEUE_SOFT_SECONDS",
  "MAX_CONNECTIONS",
  "MAX_CONNECTIONS_PER_IP",
  "TRUSTED_NETWORKS",
  "RATE_LIMIT",
  "RATE_BURST",
  "PRESENCE_TTL",
  "SHUTDOWN_GRACE",
  "LOG_LEVEL",
  "LOG_FORMAT",
];

/** The validated server configuration. */
export interface ServerConfig {
  /** Address the chat listener binds. */
  host: string;
  /** Chat (TCP) port. */
  port: number;
  /** Port of the health, readiness and metrics endpoints (0: any free port). */
  httpPort: number;
  /** Redis settings, or `null` for the embedded store. */
  redis: RedisConfig | null;
  /** Directory of the embedded store's database file. */
  dataDir: string;
  /** Name of the Redis list (and SQLite table prefix) holding the history. */
  historyKey: string;
  /** How many messages the store keeps. */
  historyLimit: number;
  /** How many of the newest messages a joining client is sent. */
  historyReplay: number;
  /** Longest accepted line in bytes, newline excluded. */
  maxLineBytes: number;
  /** How long a new connection may take to send its name, in milliseconds. */
  handshakeTimeoutMs: number;
  /** Most bytes queued for one client before it is disconnected as too slow. */
  queueLimitBytes: number;
  /** Bytes queued for one client that it may exceed only for {@linkcode queueSoftMs}. */
  queueSoftLimitBytes: number;
  /** How long a client may stay above the soft queue limit, in milliseconds. */
  queueSoftMs: number;
  /** Most simultaneous connections. */
  maxConnections: number;
  /** Most simultaneous connections from one address outside the trusted networks. */
  maxConnectionsPerIp: number;
  /** Networks exempt from the per-address limit, as CIDR text (`none` for no exemption). */
  trustedNetworks: string;
  /** Messages per second one connection may send, on average. */
  rateLimit: number;
  /** Messages one connection may send at once before the rate limit applies. */
  rateBurst: number;
  /** How long a user stays listed as online after its server stops refreshing it, in ms. */
  presenceTtlMs: number;
  /** How long a shutdown waits for clients to drain, in milliseconds. */
  shutdownGraceMs: number;
  /** Least severe log level written. */
  logLevel: "debug" | "info" | "warn" | "error";
  /** Log lines as text for people or as JSON objects for collectors. */
  logFormat: "text" | "json";
}

/** A configuration value that cannot be used, with the setting it came from. */
export class ConfigError extends Error {
  /** The variable or flag that holds the bad value. */
  readonly setting: string;

  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = "ConfigError";
    this.setting = setting;
  }
}

/** The text `--help` prints. */
export const USAGE: string = `Usage: chat-server [PORT] [options]

Options (each overrides the environment variable in brackets):
  --port N              chat port                          [PORT, 6000]
  --host ADDR           address to bind                    [HOST, 0.0.0.0]
  --http-port N         health, readiness, metrics port    [HTTP_PORT, 8080]
  --redis-url URL       use Redis at URL                   [REDIS_URL]
                        (or REDIS_HOST, REDIS_PORT, REDIS_USER, REDIS_PASSWORD;
                        REDIS_SENTINELS + REDIS_SENTINEL_MASTER for Sentinel,
                        REDIS_CLUSTER_NODES for Cluster, REDIS_MIN_REPLICAS_ACK)
  --data DIR            embedded store directory           [CHAT_DATA, data]
  --history-key NAME    Redis list holding the history     [HISTORY_KEY, chat_history]
  --history-limit N     messages kept                      [HISTORY_LIMIT, 10000]
  --history-replay N    messages sent to a joining client  [HISTORY_REPLAY, all kept]
  --max-line-bytes N    longest accepted line              [MAX_LINE_BYTES, 4096]
  --handshake-timeout S seconds to send a name             [HANDSHAKE_TIMEOUT, 10]
  --queue-limit BYTES   output queued per client, at most  [QUEUE_LIMIT, 1048576]
  --queue-soft-limit B  output queued per client for long  [QUEUE_SOFT_LIMIT, 262144]
  --queue-soft-seconds S  how long is long                 [QUEUE_SOFT_SECONDS, 10]
  --max-connections N   simultaneous connections           [MAX_CONNECTIONS, 10000]
  --max-connections-per-ip N  from one address             [MAX_CONNECTIONS_PER_IP, 10]
  --trusted-networks CIDRS  exempt from the per-IP limit   [TRUSTED_NETWORKS,
                        127.0.0.0/8,::1/128; "none" for no exemption]
  --rate-limit N        messages per second per client     [RATE_LIMIT, 5]
  --rate-burst N        messages at once before the limit  [RATE_BURST, 10]
  --presence-ttl S      seconds a crashed server's users   [PRESENCE_TTL, 30]
                        stay listed online
  --shutdown-grace S    seconds to drain on shutdown       [SHUTDOWN_GRACE, 20]
  --log-level LEVEL     debug, info, warn or error         [LOG_LEVEL, info]
  --log-format FORMAT   text or json                       [LOG_FORMAT, text]
  -h, --help            show this help
`;

const FLAGS = {
  "port": "PORT",
  "host": "HOST",
  "http-port": "HTTP_PORT",
  "redis-url": "REDIS_URL",
  "data": "CHAT_DATA",
  "history-key": "HISTORY_KEY",
  "history-limit": "HISTORY_LIMIT",
  "history-replay": "HISTORY_REPLAY",
  "max-line-bytes": "MAX_LINE_BYTES",
  "handshake-timeout": "HANDSHAKE_TIMEOUT",
  "queue-limit": "QUEUE_LIMIT",
  "queue-soft-limit": "QUEUE_SOFT_LIMIT",
  "queue-soft-seconds": "QUEUE_SOFT_SECONDS",
  "max-connections": "MAX_CONNECTIONS",
  "max-connections-per-ip": "MAX_CONNECTIONS_PER_IP",
  "trusted-networks": "TRUSTED_NETWORKS",
  "rate-limit": "RATE_LIMIT",
  "rate-burst": "RATE_BURST",
  "presence-ttl": "PRESENCE_TTL",
  "shutdown-grace": "SHUTDOWN_GRACE",
  "log-level": "LOG_LEVEL",
  "log-format": "LOG_FORMAT",
} as const;

/** What {@linkcode parseConfig} found on the command line besides settings. */
export type ParsedCommand =
  | { kind: "run"; config: ServerConfig }
  | { kind: "help" };

/**
 * Builds the configuration from environment variables and flags.
 *
 * @example
 * ```ts
 * const parsed = parseConfig(["7000", "--host", "127.0.0.1"], {});
 * if (parsed.kind === "run") console.log(parsed.config.port); // 7000
 * ```
 *
 * @param args Command-line arguments (without the program name).
 * @param env Environment variables; only names in {@linkcode ENV_VARS} are read.
 * @throws {ConfigError} naming the variable or flag whose value is unusable.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(
          Object.keys(FLAGS).map((name) => [name, { type: "string" as const }]),
        ),
      },
    });
  } catch (error) {
    throw new ConfigError("arguments", (error as Error).message);
  }
  if (parsed.values.help) return { kind: "help" };
  if (parsed.positionals.length > 1) {
    throw new ConfigError(
      "arguments",
      `expected at most one PORT argument, got ${parsed.positionals.join(" ")}`,
    );
  }

  // Each setting: its source label and raw text, flag winning over variable.
  const settings = new Map<string, { source: string; raw: string }>();
  for (const name of ENV_VARS) {
    const raw = env[name];
    if (raw !== undefined && raw !== "") settings.set(name, { source: name, raw });
  }
  if (parsed.positionals.length === 1) {
    settings.set("PORT", { source: "PORT argument", raw: parsed.positionals[0] });
  }
  for (const [flag, name] of Object.entries(FLAGS)) {
    const raw = (parsed.values as Record<string, string | boolean | undefined>)[flag];
    if (typeof raw === "string") settings.set(name, { source: `--${flag}`, raw });
  }

  const text = (name: string, fallback: string): string => settings.get(name)?.raw ?? fallback;
  const int = (name: string, fallback: number, min: number, max: number) => {
    const setting = settings.get(name);
    if (!setting) return fallback;
    return parseInteger(setting.source, setting.raw, min, max);
  };
  const seconds = (name: string, fallback: number, min: number, max: number) => {
    const setting = settings.get(name);
    if (!setting) return fallback * 1000;
    const value = Number(setting.raw);
    if (!/^\d+(\.\d+)?$/.test(setting.raw.trim()) || value < min || value > max) {
      throw new ConfigError(
        setting.source,
        `expected seconds from ${min} to ${max}, got "${setting.raw}"`,
      );
    }
    return Math.round(value * 1000);
  };

  const rate = (name: string, fallback: number, min: number, max: number) => {
    const setting = settings.get(name);
    if (!setting) return fallback;
    const value = Number(setting.raw);
    if (!/^\d+(\.\d+)?$/.test(setting.raw.trim()) || value < min || value > max) {
      throw new ConfigError(
        setting.source,
        `expected a number from ${min} to ${max}, got "${setting.raw}"`,
      );
    }
    return value;
  };
  const choice = <T extends string>(name: string, choices: readonly T[]): T => {
    const value = text(name, choices[0]);
    if (!(choices as readonly string[]).includes(value)) {
      throw new ConfigError(
        settings.get(name)!.source,
        `expected ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}, got "${value}"`,
      );
    }
    return value as T;
  };

  const historyLimit = int("HISTORY_LIMIT", 10_000, 1, 10_000_000);
  const historyReplay = int("HISTORY_REPLAY", historyLimit, 0, 10_000_000);
  const historyKey = text("HISTORY_KEY", "chat_history");
  if (!/^[A-Za-z0-9_:.-]{1,200}$/.test(historyKey)) {
    throw new ConfigError(
      settings.get("HISTORY_KEY")!.source,
      `expected 1-200 letters, digits or _:.- characters, got "${historyKey}"`,
    );
  }

  const queueLimitBytes = int("QUEUE_LIMIT", 1_048_576, 4096, 1_073_741_824);
  const queueSoftLimitBytes = int("QUEUE_SOFT_LIMIT", 262_144, 1024, 1_073_741_824);
  if (queueSoftLimitBytes > queueLimitBytes) {
    throw new ConfigError(
      settings.get("QUEUE_SOFT_LIMIT")?.source ?? "QUEUE_LIMIT",
      `the soft limit (${queueSoftLimitBytes}) must not exceed the hard limit (${queueLimitBytes})`,
    );
  }
  const trustedNetworks = text("TRUSTED_NETWORKS", DEFAULT_TRUSTED);
  try {
    parseNetworks(trustedNetworks);
  } catch (error) {
    throw new ConfigError(settings.get("TRUSTED_NETWORKS")!.source, (error as Error).message);
  }

  return {
    kind: "run",
    config: {
      host: text("HOST", "0.0.0.0"),
      port: int("PORT", 6000, 1, 65535),
      httpPort: int("HTTP_PORT", 8080, 0, 65535),
      redis: redisConfig(settings),
      dataDir: text("CHAT_DATA", "data"),
      historyKey,
      historyLimit,
      historyReplay: Math.min(historyReplay, historyLimit),
      maxLineBytes: int("MAX_LINE_BYTES", 4096, 64, 1_048_576),
      handshakeTimeoutMs: seconds("HANDSHAKE_TIMEOUT", 10, 0.1, 3600),
      queueLimitBytes,
      queueSoftLimitBytes,
      queueSoftMs: seconds("QUEUE_SOFT_SECONDS", 10, 0, 3600),
      maxConnections: int("MAX_CONNECTIONS", 10_000, 1, 1_000_000),
      maxConnectionsPerIp: int("MAX_CONNECTIONS_PER_IP", 10, 1, 1_000_000),
      trustedNetworks,
      rateLimit: rate("RATE_LIMIT", 5, 0.01, 1_000_000),
      rateBurst: int("RATE_BURST", 10, 1, 1_000_000),
      presenceTtlMs: seconds("PRESENCE_TTL", 30, 3, 3600),
      shutdownGraceMs: seconds("SHUTDOWN_GRACE", 20, 0, 3600),
      logLevel: choice("LOG_LEVEL", ["info", "debug", "warn", "error"]),
      logFormat: choice("LOG_FORMAT", ["text", "json"]),
    },
  };
}

function parseInteger(source: string, raw: string, min: number, max: number): number {
  const value = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ConfigError(
      source,
      `expected a whole number from ${min} to ${max}, got "${raw}"`,
    );
  }
  return value;
}

function redisConfig(
  settings: Map<string, { source: string; raw: string }>,
): RedisConfig | null {
  // Sentinel and Cluster: seed lists instead of one address.
  const seeds = (name: string) => {
    const setting = settings.get(name);
    if (!setting) return undefined;
    return setting.raw.split(",").map((part) => {
      const match = part.trim().match(/^([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):(\d+)$/);
      const port = match ? Number(match[2]) : 0;
      if (!match || port < 1 || port > 65535) {
        throw new ConfigError(setting.source, `expected host:port[,host:port...], got "${part}"`);
      }
      return { host: match[1].replace(/^\[|\]$/g, ""), port };
    });
  };
  const sentinels = seeds("REDIS_SENTINELS");
  const clusterNodes = seeds("REDIS_CLUSTER_NODES");
  const ack = settings.get("REDIS_MIN_REPLICAS_ACK");
  const minReplicasAck = ack ? parseInteger(ack.source, ack.raw, 0, 100) : 0;
  const master = settings.get("REDIS_SENTINEL_MASTER");
  if (sentinels && clusterNodes) {
    throw new ConfigError("REDIS_CLUSTER_NODES", "cannot be used together with REDIS_SENTINELS");
  }
  if (master && !sentinels) {
    throw new ConfigError(master.source, "is set but REDIS_SENTINELS is not");
  }
  for (const name of ["REDIS_URL", "REDIS_HOST", "REDIS_PORT"]) {
    const setting = settings.get(name);
    if (setting && (sentinels || clusterNodes)) {
      throw new ConfigError(
        setting.source,
        "cannot be used with REDIS_SENTINELS or REDIS_CLUSTER_NODES",
      );
    }
  }
  if (sentinels || clusterNodes) {
    const name = master?.raw.trim() ?? "mymaster";
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
      throw new ConfigError(master!.source, `"${name}" is not a master name`);
    }
    const list = (sentinels ?? clusterNodes)!.map((n) => `${n.host}:${n.port}`).join(",");
    return {
      url: sentinels ? `redis-sentinel://${list}/${name}` : `redis-cluster://${list}`,
      username: settings.get("REDIS_USER")?.raw,
      password: settings.get("REDIS_PASSWORD")?.raw,
      ...(sentinels ? { sentinels, sentinelMaster: name } : { clusterNodes }),
      minReplicasAck,
    };
  }
  const url = settings.get("REDIS_URL");
  const host = settings.get("REDIS_HOST");
  if (!url && !host) {
    for (const name of ["REDIS_PORT", "REDIS_USER", "REDIS_PASSWORD", "REDIS_MIN_REPLICAS_ACK"]) {
      const setting = settings.get(name);
      if (setting) {
        throw new ConfigError(
          setting.source,
          "is set but neither REDIS_URL nor REDIS_HOST is, so Redis would not be used",
        );
      }
    }
    return null;
  }

  let parsed: URL;
  if (url) {
    try {
      parsed = new URL(url.raw);
    } catch {
      throw new ConfigError(url.source, "is not a valid URL");
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
      throw new ConfigError(
        url.source,
        `expected a redis:// or rediss:// URL, got ${parsed.protocol}//`,
      );
    }
  } else {
    const name = host!.raw.trim();
    if (!/^([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])$/.test(name)) {
      throw new ConfigError(host!.source, `"${host!.raw}" is not a host name or address`);
    }
    parsed = new URL(`redis://${name}:6379`);
  }
  // Explicit variables win over the URL's parts, so a Secret can carry the
  // password while the URL stays in plain configuration.
  const port = settings.get("REDIS_PORT");
  if (port) parsed.port = String(parseInteger(port.source, port.raw, 1, 65535));
  const decode = (part: string): string | undefined => {
    try {
      return decodeURIComponent(part) || undefined;
    } catch {
      throw new ConfigError(
        url!.source,
        "has a malformed %-escape in its user or password (write % as %25)",
      );
    }
  };
  const username = settings.get("REDIS_USER")?.raw ?? decode(parsed.username);
  const password = settings.get("REDIS_PASSWORD")?.raw ?? decode(parsed.password);
  parsed.username = "";
  parsed.password = "";
  const address = parsed.toString().replace(/\/$/, "");
  return { url: address, username, password, ...(minReplicasAck ? { minReplicasAck } : {}) };
}
