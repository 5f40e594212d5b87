/**
 * The whole `/metrics` output of a real server on Redis, judged by
 * Prometheus's own `promtool check metrics` rather than by our parser.
 */

import assert from "node:assert/strict";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

Deno.test("promtool accepts the whole /metrics output of a server on Redis", async () => {
  await using redis = await RedisServer.start();
  await using server = await ServerProcess.start({ env: { REDIS_URL: redis.url } });
  const response = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`);
  const text = await response.text();
  assert.match(text, /^chat_store_failovers_total 0$/m);
  const promtool = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = promtool.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await promtool.output();
  const said = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, `promtool check metrics failed:\n${said}`);
});
