/**
 * Starts a chat server for the load generator to measure: the real
 * `server.ts` as a child process (with the permissions of the `server` task),
 * with the embedded store in a temporary directory, or with its own
 * `redis-server` on a free loopback port. Built on the test helpers, so it
 * runs only from a checkout of the project.
 *
 * The server's policy limits are lifted for the benchmark, because they exist
 * to stop one abusive client and a benchmark is many fast ones: the per-client
 * rate limit (`RATE_LIMIT`, `RATE_BURST`) is set to its maximum. Everything
 * else is the server's default, logging included (the helper collects the
 * log in this process); the helper picks free chat and HTTP ports.
 *
 * Disposing stops what was started, by its own process handle, and removes
 * the temporary directories. It never touches a server or Redis it did not
 * start.
 *
 * @module
 */

import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

/** A server started for one run. */
export interface SpawnedTarget extends AsyncDisposable {
  /** Where it listens. */
  host: string;
  /** Its chat port. */
  port: number;
  /** For the report, e.g. `server.ts (embedded SQLite store)`. */
  description: string;
}

/** The environment that lifts the limits a benchmark would hit. */
export const BENCH_SERVER_ENV: Readonly<Record<string, string>> = {
  RATE_LIMIT: "1000000",
  RATE_BURST: "1000000",
};

/**
 * Starts `server.ts`, with the embedded store or, when `redis` is true, a
 * private `redis-server`. That Redis runs without AOF: the helper's AOF mode
 * fsyncs every write, which would measure the disk; a deployed Redis with
 * AOF at its default (`appendfsync everysec`) fsyncs once a second.
 *
 * @param redis whether to use a new redis-server instead of the embedded store.
 * @returns the running server; dispose of it to stop everything.
 */
export async function spawnTarget(redis: boolean): Promise<SpawnedTarget> {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-bench-" });
  const cleanups: (() => Promise<unknown>)[] = [
    () => Deno.remove(dataDir, { recursive: true }),
  ];
  const dispose = async () => {
    // Last started, first stopped: the server before its Redis.
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const env: Record<string, string> = { ...BENCH_SERVER_ENV };
    if (redis) {
      const store = await RedisServer.start({ appendOnly: false });
      cleanups.push(() => store[Symbol.asyncDispose]());
      env.REDIS_URL = store.url;
    }
    const server = await ServerProcess.start({ dataDir, env });
    cleanups.push(() => server[Symbol.asyncDispose]());
    return {
      host: "127.0.0.1",
      port: server.port,
      description: `server.ts (${redis ? "redis-server without AOF" : "embedded SQLite store"})`,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}
