/**
 * Entry point of the chat server: configuration, the HTTP port (health,
 * readiness, metrics), the store and its accounts, the chat listeners, then
 * a graceful shutdown on SIGTERM or SIGINT. SIGHUP re-reads the TLS
 * certificate (for the chat's TLS port and the web port).
 *
 * Run with `deno task server`; `--help` lists the settings.
 * `chat-server healthcheck` asks a running server's `/healthz` and exits 0
 * or 1, for container health checks in an image without a shell.
 *
 * @module
 */

import {
  ConfigError,
  ENV_VARS,
  parseConfig,
  type ServerConfig,
  USAGE,
} from "./lib/server/config.ts";
import { healthcheck, type Readiness, startHttp } from "./lib/ops/http.ts";
import { createLogger, type Logger } from "./lib/ops/log.ts";
import { ServerMetrics } from "./lib/ops/chat_metrics.ts";
import type { Accounts } from "./lib/store/accounts.ts";
import { RedisAccounts } from "./lib/store/redis_accounts.ts";
import { SqliteAccounts } from "./lib/store/sqlite_accounts.ts";
import { LocalPresence } from "./lib/store/local_presence.ts";
import type { Presence } from "./lib/store/presence.ts";
import { RedisPresence } from "./lib/store/redis_presence.ts";
import { RedisStore } from "./lib/store/redis_store.ts";
import { ChatServer } from "./lib/server/chat_server.ts";
import { SqliteStore } from "./lib/store/sqlite_store.ts";
import { startWebListener, type WebListener } from "./lib/server/web_listener.ts";
import { exposedCollector } from "./lib/server/memory_reclaimer.ts";
import type { Store } from "./lib/store/store.ts";

async function openStore(
  config: ServerConfig,
  logger: Logger,
  metrics: ServerMetrics,
): Promise<{ store: Store; presence: Presence; accounts: Accounts }> {
  if (config.redis) {
    logger.info("connecting to Redis", { url: config.redis.url });
    const store = await RedisStore.connect({
      redis: config.redis,
      historyKey: config.historyKey,
      historyLimit: config.historyLimit,
      logger,
      metrics,
    });
    let presence: Presence | null = null;
    try {
      presence = await RedisPresence.connect({
        redis: config.redis,
        key: `${config.historyKey}:presence`,
        ttlMs: config.presenceTtlMs,
        logger,
      });
      const accounts = await RedisAccounts.connect({
        redis: config.redis,
        historyKey: config.historyKey,
        logger,
      });
      return { store, presence, accounts };
    } catch (error) {
      await Promise.all([store.close(), presence?.close()]);
      throw error;
    }
  }
  for (const name of ["read", "write"] as const) {
    const { state } = await Deno.permissions.query({ name, path: config.dataDir });
    if (state !== "granted") {
      throw new ConfigError(
        "CHAT_DATA",
        `no permission to ${name} "${config.dataDir}"; run with --allow-read=${config.dataDir} --allow-write=${config.dataDir}`,
      );
    }
  }
  const store = await SqliteStore.open({
    dataDir: config.dataDir,
    historyLimit: config.historyLimit,
    metrics,
  });
  const accounts = await SqliteAccounts.open({ dataDir: config.dataDir });
  return { store, presence: new LocalPresence(), accounts };
}

function readConfig(args: string[]): ServerConfig | number {
  try {
    const env = Object.fromEntries(ENV_VARS.map((name) => [name, Deno.env.get(name)]));
    const parsed = parseConfig(args, env);
    if (parsed.kind === "help") {
      console.log(USAGE);
      return 0;
    }
    return parsed.config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`chat-server: ${error.message}\n\n${USAGE}`);
    return 2;
  }
}

async function main(): Promise<number> {
  if (Deno.args[0] === "healthcheck") {
    const config = readConfig(Deno.args.slice(1));
    if (typeof config === "number") return config;
    return await healthcheck(config.httpPort) ? 0 : 1;
  }
  const config = readConfig(Deno.args);
  if (typeof config === "number") return config;

  const logger = createLogger(config.logLevel, { format: config.logFormat });
  const metrics = new ServerMetrics();
  let store: Store | null = null;
  let server: ChatServer | null = null;
  const ready = (): Readiness => {
    if (server?.stopping) return { ready: false, reason: "shutting down" };
    if (!store) return { ready: false, reason: "store connecting" };
    if (!store.connected) return { ready: false, reason: "store disconnected" };
    if (!server) return { ready: false, reason: "starting" };
    return { ready: true };
  };
  // Health answers while the store is still being waited for, so that a
  // liveness probe does not restart a server that is only waiting for Redis.
  let http;
  try {
    http = await startHttp({
      hostname: config.host,
      port: config.httpPort,
      metrics,
      ready,
      logger,
    });
  } catch (error) {
    logger.error("cannot serve HTTP", { port: config.httpPort, error: (error as Error).message });
    return 1;
  }

  let presence: Presence;
  let accounts: Accounts;
  try {
    ({ store, presence, accounts } = await openStore(config, logger, metrics));
  } catch (error) {
    logger.error("cannot open the store", { error: (error as Error).message });
    await http.shutdown();
    return 1;
  }
  logger.info(`store: ${store.description}`);

  const collect = exposedCollector();
  if (!collect) {
    logger.warn("memory is kept after bursts of connections: start with --v8-flags=--expose-gc");
  }
  try {
    server = await ChatServer.start(config, {
      store,
      presence,
      accounts,
      logger,
      metrics,
      reclaim: collect && { collect },
    });
  } catch (error) {
    logger.error("cannot start", { error: (error as Error).message });
    await Promise.all([store.close(), presence.close(), accounts.close(), http.shutdown()]);
    return 1;
  }
  const running = server;
  let web: WebListener;
  try {
    web = await startWebListener({
      hostname: config.host,
      port: config.webPort,
      allowedOrigins: config.allowedOrigins,
      maxLineBytes: config.maxLineBytes,
      tls: config.tls,
      admit: (conn) => running.admit(conn),
      logger,
    });
  } catch (error) {
    logger.error("cannot serve the web page", {
      port: config.webPort,
      error: (error as Error).message,
    });
    await running.shutdown();
    await Promise.all([store.close(), presence.close(), accounts.close(), http.shutdown()]);
    return 1;
  }
  // The web port stops taking sockets at once, so none joins a stopping server.
  const stop = () => {
    void web.shutdown();
    void running.shutdown();
  };
  // One certificate for the chat's TLS port and the web port.
  const reload = () => void Promise.all([running.reloadTls(), web.reloadTls()]);
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGHUP", reload);
  await running.finished;
  Deno.removeSignalListener("SIGTERM", stop);
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGHUP", reload);
  await Promise.all([
    store.close(),
    presence.close(),
    accounts.close(),
    http.shutdown(),
    web.shutdown(),
  ]);
  logger.info("stopped");
  return 0;
}

Deno.exit(await main());
