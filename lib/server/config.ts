/**
 * Server configuration: the settings of `settings.ts` (environment first, as
 * Compose and Kubernetes set it, then command-line flags) composed into one
 * {@linkcode ServerConfig} and validated as a whole before anything starts:
 * the Redis connection from its URL and parts, the queue limits against each
 * other, the history replay capped by the history limit.
 *
 * This module only parses and validates; it opens no sockets and no files.
 * Names, flags and defaults live in the settings table, not here.
 *
 * @module
 */

import type { RedisConfig } from "../store/redis_connection.ts";
import { DEFAULT_TRUSTED, parseNetworks } from "../util/cidr.ts";
import { ConfigError, Settings } from "./settings_reader.ts";

export { ENV_VARS, USAGE } from "./settings.ts";
export { ConfigError } from "./settings_reader.ts";

/** The validated server configuration. */
export interface ServerConfig {
  /** Address the chat listener binds. */
  host: string;
  /** Plain-text chat (TCP) port, or null when it is off. */
  port: number | null;
  /** The TLS chat listener, or null when no certificate is configured. */
  tls: TlsConfig | null;
  /** Port of the health, readiness and metrics endpoints (0: any free port). */
  httpPort: number;
  /** Port of the browser page and its WebSocket (0: any free port). */
  webPort: number;
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
  /** Origins besides the page's own whose pages may open the WebSocket. */
  allowedOrigins: string[];
  /** Messages per second one connection may send, on average. */
  rateLimit: number;
  /** Messages one connection may send at once before the rate limit applies. */
  rateBurst: number;
  /** Members on this replica above which join and leave notices are summarised. */
  noticeRoomLimit: number;
  /** How long a user stays listed as online after its server stops refreshing it, in ms. */
  presenceTtlMs: number;
  /** How long a shutdown waits for clients to drain, in milliseconds. */
  shutdownGraceMs: number;
  /** Least severe log level written. */
  logLevel: "debug" | "info" | "warn" | "error";
  /** Log lines as text for people or as JSON objects for collectors. */
  logFormat: "text" | "json";
}

/** Where the TLS listener listens and finds its certificate. */
export interface TlsConfig {
  port: number;
  /** PEM certificate chain file. */
  certFile: string;
  /** PEM private key file. */
  keyFile: string;
}

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
 * @param env Environment variables; only names in `ENV_VARS` are read.
 * @throws {ConfigError} naming the variable or flag whose value is unusable.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedCommand {
  const settings = Settings.read(args, env);
  if (settings.help) return { kind: "help" };

  const historyLimit = settings.required("HISTORY_LIMIT");
  const historyReplay = settings.value("HISTORY_REPLAY") ?? historyLimit;
  const historyKey = settings.required("HISTORY_KEY");

  const queueLimitBytes = settings.required("QUEUE_LIMIT");
  const queueSoftLimitBytes = settings.required("QUEUE_SOFT_LIMIT");
  if (queueSoftLimitBytes > queueLimitBytes) {
    throw new ConfigError(
      settings.isSet("QUEUE_SOFT_LIMIT") ? settings.source("QUEUE_SOFT_LIMIT") : "QUEUE_LIMIT",
      `the soft limit (${queueSoftLimitBytes}) must not exceed the hard limit (${queueLimitBytes})`,
    );
  }
  const trustedNetworks = settings.value("TRUSTED_NETWORKS") ?? DEFAULT_TRUSTED;
  try {
    parseNetworks(trustedNetworks);
  } catch (error) {
    throw new ConfigError(settings.source("TRUSTED_NETWORKS"), (error as Error).message);
  }

  const port = settings.value("PORT") ?? null;
  const tls = tlsConfig(settings);
  if (port === null && tls === null) {
    throw new ConfigError(
      settings.source("PORT"),
      "is off, but TLS_CERT and TLS_KEY are not set: there would be nothing to listen on",
    );
  }

  return {
    kind: "run",
    config: {
      host: settings.required("HOST"),
      port,
      tls,
      httpPort: settings.required("HTTP_PORT"),
      webPort: settings.required("WEB_PORT"),
      redis: redisConfig(settings),
      dataDir: settings.required("CHAT_DATA"),
      historyKey,
      historyLimit,
      historyReplay: Math.min(historyReplay, historyLimit),
      maxLineBytes: settings.required("MAX_LINE_BYTES"),
      handshakeTimeoutMs: settings.required("HANDSHAKE_TIMEOUT"),
      queueLimitBytes,
      queueSoftLimitBytes,
      queueSoftMs: settings.required("QUEUE_SOFT_SECONDS"),
      maxConnections: settings.required("MAX_CONNECTIONS"),
      maxConnectionsPerIp: settings.required("MAX_CONNECTIONS_PER_IP"),
      trustedNetworks,
      allowedOrigins: settings.value("ALLOWED_ORIGINS") ?? [],
      rateLimit: settings.required("RATE_LIMIT"),
      rateBurst: settings.required("RATE_BURST"),
      noticeRoomLimit: settings.required("NOTICE_ROOM_LIMIT"),
      presenceTtlMs: settings.required("PRESENCE_TTL"),
      shutdownGraceMs: settings.required("SHUTDOWN_GRACE"),
      logLevel: settings.required("LOG_LEVEL"),
      logFormat: settings.required("LOG_FORMAT"),
    },
  };
}

function tlsConfig(settings: Settings): TlsConfig | null {
  const certFile = settings.value("TLS_CERT");
  const keyFile = settings.value("TLS_KEY");
  if (certFile === undefined && keyFile === undefined) return null;
  if (certFile === undefined || keyFile === undefined) {
    const missing = certFile === undefined ? "TLS_CERT" : "TLS_KEY";
    const given = certFile === undefined ? "TLS_KEY" : "TLS_CERT";
    throw new ConfigError(given, `is set but ${missing} is not; TLS needs both`);
  }
  return { port: settings.required("TLS_PORT"), certFile, keyFile };
}

function redisConfig(settings: Settings): RedisConfig | null {
  const sentinels = settings.value("REDIS_SENTINELS");
  const clusterNodes = settings.value("REDIS_CLUSTER_NODES");
  const minReplicasAck = settings.value("REDIS_MIN_REPLICAS_ACK") ?? 0;
  if (sentinels && clusterNodes) {
    throw new ConfigError("REDIS_CLUSTER_NODES", "cannot be used together with REDIS_SENTINELS");
  }
  if (settings.isSet("REDIS_SENTINEL_MASTER") && !sentinels) {
    throw new ConfigError(
      settings.source("REDIS_SENTINEL_MASTER"),
      "is set but REDIS_SENTINELS is not",
    );
  }
  if (sentinels || clusterNodes) {
    for (const name of ["REDIS_URL", "REDIS_HOST", "REDIS_PORT"] as const) {
      if (settings.isSet(name)) {
        throw new ConfigError(
          settings.source(name),
          "cannot be used with REDIS_SENTINELS or REDIS_CLUSTER_NODES",
        );
      }
    }
    const master = settings.value("REDIS_SENTINEL_MASTER") ?? "mymaster";
    const list = (sentinels ?? clusterNodes)!.map((n) => `${n.host}:${n.port}`).join(",");
    return {
      url: sentinels ? `redis-sentinel://${list}/${master}` : `redis-cluster://${list}`,
      username: settings.value("REDIS_USER"),
      password: settings.value("REDIS_PASSWORD"),
      ...(sentinels ? { sentinels, sentinelMaster: master } : { clusterNodes }),
      minReplicasAck,
    };
  }
  const url = settings.value("REDIS_URL");
  const host = settings.value("REDIS_HOST");
  if (url === undefined && host === undefined) {
    for (
      const name of [
        "REDIS_PORT",
        "REDIS_USER",
        "REDIS_PASSWORD",
        "REDIS_MIN_REPLICAS_ACK",
        "REDIS_CA",
      ] as const
    ) {
      if (settings.isSet(name)) {
        throw new ConfigError(
          settings.source(name),
          "is set but neither REDIS_URL nor REDIS_HOST is, so Redis would not be used",
        );
      }
    }
    return null;
  }

  let parsed: URL;
  if (url !== undefined) {
    const source = settings.source("REDIS_URL");
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(source, "is not a valid URL");
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
      throw new ConfigError(
        source,
        `expected a redis:// or rediss:// URL, got ${parsed.protocol}//`,
      );
    }
  } else {
    const name = host!.trim();
    if (!/^([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])$/.test(name)) {
      throw new ConfigError(
        settings.source("REDIS_HOST"),
        `"${host}" is not a host name or address`,
      );
    }
    parsed = new URL(`redis://${name}:6379`);
  }
  // Explicit variables win over the URL's parts, so a Secret can carry the
  // password while the URL stays in plain configuration.
  const port = settings.value("REDIS_PORT");
  if (port !== undefined) parsed.port = String(port);
  const decode = (part: string): string | undefined => {
    try {
      return decodeURIComponent(part) || undefined;
    } catch {
      throw new ConfigError(
        settings.source("REDIS_URL"),
        "has a malformed %-escape in its user or password (write % as %25)",
      );
    }
  };
  const username = settings.value("REDIS_USER") ?? decode(parsed.username);
  const password = settings.value("REDIS_PASSWORD") ?? decode(parsed.password);
  parsed.username = "";
  parsed.password = "";
  const caFile = settings.value("REDIS_CA");
  if (caFile !== undefined && parsed.protocol !== "rediss:") {
    throw new ConfigError(
      settings.source("REDIS_CA"),
      "is set but Redis is not reached over rediss://",
    );
  }
  return {
    url: parsed.toString().replace(/\/$/, ""),
    username,
    password,
    ...minReplicasAck ? { minReplicasAck } : {},
    ...caFile === undefined ? {} : { caFile },
  };
}
