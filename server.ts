/**
 * Entry point of the chat server: configuration, then the store, then the
 * listener, then a graceful shutdown on SIGTERM or SIGINT.
 *
 * Run with `deno task server`; `--help` lists the settings.
 *
 * @module
 */

import { ConfigError, ENV_VARS, parseConfig, type ServerConfig, USAGE } from "./lib/config.ts";
import { createLogger, type Logger } from "./lib/log.ts";
import { RedisStore } from "./lib/redis_store.ts";
import { ChatServer } from "./lib/server.ts";
import { SqliteStore } from "./lib/sqlite_store.ts";
import type { Store } from "./lib/store.ts";

async function openStore(config: ServerConfig, logger: Logger): Promise<Store> {
  if (config.redis) {
    logger.info(`connecting to Redis at ${config.redis.url}`);
    return await RedisStore.connect({
      redis: config.redis,
      historyKey: config.historyKey,
      historyLimit: config.historyLimit,
      logger,
    });
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
  return await SqliteStore.open({ dataDir: config.dataDir, historyLimit: config.historyLimit });
}

async function main(): Promise<number> {
  let config: ServerConfig;
  try {
    const env = Object.fromEntries(ENV_VARS.map((name) => [name, Deno.env.get(name)]));
    const parsed = parseConfig(Deno.args, env);
    if (parsed.kind === "help") {
      console.log(USAGE);
      return 0;
    }
    config = parsed.config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`chat-server: ${error.message}\n\n${USAGE}`);
    return 2;
  }

  const logger = createLogger(config.logLevel);
  let store: Store;
  try {
    store = await openStore(config, logger);
  } catch (error) {
    logger.error(`cannot open the store: ${(error as Error).message}`);
    return 1;
  }
  logger.info(`store: ${store.description}`);

  let server: ChatServer;
  try {
    server = await ChatServer.start(config, store, logger);
  } catch (error) {
    logger.error(`cannot start: ${(error as Error).message}`);
    await store.close();
    return 1;
  }
  const stop = () => void server.shutdown();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await server.finished;
  Deno.removeSignalListener("SIGTERM", stop);
  Deno.removeSignalListener("SIGINT", stop);
  await store.close();
  logger.info("stopped");
  return 0;
}

Deno.exit(await main());
