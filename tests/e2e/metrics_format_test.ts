/**
 * The whole `/metrics` output of a real server on Redis, judged by
 * Prometheus's own `promtool check metrics` rather than by our parser.
 */

import assert from "node:assert/strict";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";
import { assertPromtoolAccepts } from "../helpers/promtool.ts";

Deno.test("promtool accepts the whole /metrics output of a server on Redis", async () => {
  await using redis = await RedisServer.start();
  await using server = await ServerProcess.start({ env: { REDIS_URL: redis.url } });
  const response = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`);
  const text = await response.text();
  assert.match(text, /^chat_store_failovers_total 0$/m);
  await assertPromtoolAccepts(text);
});
