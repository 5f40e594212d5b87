/**
 * Configuration from environment variables and flags: defaults, precedence,
 * Redis settings (credentials kept out of the URL), validation errors that
 * name their setting, and the `server` task's permissions matching the code.
 */

import assert from "node:assert/strict";
import { ConfigError, ENV_VARS, parseConfig, type ServerConfig } from "../../lib/server/config.ts";

type Env = Record<string, string | undefined>;

function run(args: string[], env: Env = {}): ServerConfig {
  const parsed = parseConfig(args, env);
  assert.equal(parsed.kind, "run");
  return (parsed as { kind: "run"; config: ServerConfig }).config;
}

/** Asserts that parsing throws a ConfigError for `setting` whose message names it. */
function refuses(args: string[], env: Env, setting: string): ConfigError {
  let caught: unknown;
  try {
    parseConfig(args, env);
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof ConfigError,
    `expected a ConfigError for ${setting}, got ${
      caught instanceof Error ? caught.name + ": " + caught.message : String(caught)
    }`,
  );
  assert.equal(caught.setting, setting);
  assert.ok(
    caught.message.includes(setting),
    `message ${JSON.stringify(caught.message)} names ${setting}`,
  );
  return caught;
}

Deno.test("with no flags and no environment the defaults are used", () => {
  const config = run([], {});
  assert.equal(config.port, 6000);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.redis, null);
  assert.equal(config.dataDir, "data");
  assert.equal(config.historyKey, "chat_history");
  assert.equal(config.historyLimit, 10_000);
  assert.equal(config.historyReplay, 10_000);
  assert.equal(config.maxLineBytes, 4096);
  assert.equal(config.handshakeTimeoutMs, 10_000);
  assert.equal(config.queueLimitBytes, 1_048_576);
  assert.equal(config.shutdownGraceMs, 20_000);
  assert.equal(config.logLevel, "info");
});

Deno.test("history replay defaults to the history limit", () => {
  const config = run([], { HISTORY_LIMIT: "500" });
  assert.equal(config.historyLimit, 500);
  assert.equal(config.historyReplay, 500);
});

Deno.test("a bare first argument is the port", () => {
  assert.equal(run(["7000"]).port, 7000);
});

Deno.test("--port beats PORT, PORT beats the default, and the bare argument beats PORT", () => {
  assert.equal(run([], { PORT: "7001" }).port, 7001);
  assert.equal(run(["--port", "7002"], { PORT: "7001" }).port, 7002);
  assert.equal(run(["--port=7003"], { PORT: "7001" }).port, 7003);
  assert.equal(run(["7004"], { PORT: "7001" }).port, 7004);
  assert.equal(run(["7004", "--port", "7005"], { PORT: "7001" }).port, 7005);
});

Deno.test("flags override their environment variables", () => {
  const config = run(
    [
      "--host",
      "127.0.0.1",
      "--data",
      "/var/chat",
      "--history-limit",
      "50",
      "--handshake-timeout",
      "2.5",
      "--log-level",
      "debug",
    ],
    {
      HOST: "10.0.0.1",
      CHAT_DATA: "elsewhere",
      HISTORY_LIMIT: "99",
      HANDSHAKE_TIMEOUT: "30",
      LOG_LEVEL: "warn",
    },
  );
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.dataDir, "/var/chat");
  assert.equal(config.historyLimit, 50);
  assert.equal(config.handshakeTimeoutMs, 2500);
  assert.equal(config.logLevel, "debug");
});

Deno.test("an empty environment variable counts as unset", () => {
  const config = run([], { PORT: "", REDIS_URL: "", LOG_LEVEL: "" });
  assert.equal(config.port, 6000);
  assert.equal(config.redis, null);
  assert.equal(config.logLevel, "info");
});

Deno.test("REDIS_HOST, REDIS_PORT, REDIS_USER and REDIS_PASSWORD build a Redis config whose URL has no credentials", () => {
  const config = run([], {
    REDIS_HOST: "redis.chat.svc",
    REDIS_PORT: "6380",
    REDIS_USER: "chat",
    REDIS_PASSWORD: "s3cret",
  });
  assert.ok(config.redis);
  assert.equal(config.redis.url, "redis://redis.chat.svc:6380");
  assert.equal(config.redis.username, "chat");
  assert.equal(config.redis.password, "s3cret");
  assert.ok(!config.redis.url.includes("s3cret"));
  assert.ok(!config.redis.url.includes("chat@"));
});

Deno.test("REDIS_HOST alone uses the standard Redis port and no credentials", () => {
  const config = run([], { REDIS_HOST: "redis" });
  assert.deepEqual(config.redis, {
    url: "redis://redis:6379",
    username: undefined,
    password: undefined,
  });
});

Deno.test("a REDIS_URL carrying credentials is split into a URL without them plus username and password", () => {
  const config = run([], { REDIS_URL: "redis://chat:p%40ss@redis.example:6390/2" });
  assert.ok(config.redis);
  assert.equal(config.redis.url, "redis://redis.example:6390/2");
  assert.equal(config.redis.username, "chat");
  assert.equal(config.redis.password, "p@ss");
  assert.ok(!config.redis.url.includes("@"));
});

Deno.test("a rediss:// URL with only a password keeps TLS and has no username", () => {
  const config = run([], { REDIS_URL: "rediss://:pw@secure.example:6380" });
  assert.deepEqual(config.redis, {
    url: "rediss://secure.example:6380",
    username: undefined,
    password: "pw",
  });
});

Deno.test("REDIS_PASSWORD, REDIS_USER and REDIS_PORT override those parts of REDIS_URL", () => {
  const config = run([], {
    REDIS_URL: "redis://olduser:oldpass@redis:6379",
    REDIS_PASSWORD: "fromsecret",
  });
  assert.ok(config.redis);
  assert.equal(config.redis.url, "redis://redis:6379");
  assert.equal(config.redis.username, "olduser");
  assert.equal(config.redis.password, "fromsecret");
  const both = run([], {
    REDIS_URL: "redis://olduser:oldpass@redis:6379",
    REDIS_USER: "newuser",
    REDIS_PASSWORD: "newpass",
  });
  assert.equal(both.redis?.username, "newuser");
  assert.equal(both.redis?.password, "newpass");
  const port = run([], { REDIS_URL: "redis://redis:6379", REDIS_PORT: "6390" });
  assert.equal(port.redis?.url, "redis://redis:6390");
});

Deno.test("--redis-url overrides REDIS_URL", () => {
  const config = run(["--redis-url", "redis://flag:6379"], { REDIS_URL: "redis://env:6379" });
  assert.equal(config.redis?.url, "redis://flag:6379");
});

Deno.test("REDIS_PORT without REDIS_HOST or REDIS_URL is an error naming REDIS_PORT", () => {
  refuses([], { REDIS_PORT: "6379" }, "REDIS_PORT");
});

Deno.test("REDIS_PASSWORD without REDIS_HOST or REDIS_URL is an error naming REDIS_PASSWORD", () => {
  const error = refuses([], { REDIS_PASSWORD: "hunter2" }, "REDIS_PASSWORD");
  assert.ok(!error.message.includes("hunter2"), "the password is not echoed");
});

Deno.test("invalid values throw a ConfigError whose message names the variable", () => {
  const cases: [Env, string][] = [
    [{ PORT: "abc" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ PORT: "0" }, "PORT"],
    [{ PORT: "-1" }, "PORT"],
    [{ PORT: "80.5" }, "PORT"],
    [{ HISTORY_LIMIT: "0" }, "HISTORY_LIMIT"],
    [{ HISTORY_REPLAY: "-5" }, "HISTORY_REPLAY"],
    [{ REDIS_URL: "http://x" }, "REDIS_URL"],
    [{ REDIS_URL: "not a url" }, "REDIS_URL"],
    [{ REDIS_HOST: "bad host" }, "REDIS_HOST"],
    [{ REDIS_HOST: "redis", REDIS_PORT: "99999" }, "REDIS_PORT"],
    [{ HANDSHAKE_TIMEOUT: "-1" }, "HANDSHAKE_TIMEOUT"],
    [{ HANDSHAKE_TIMEOUT: "soon" }, "HANDSHAKE_TIMEOUT"],
    [{ SHUTDOWN_GRACE: "1e3" }, "SHUTDOWN_GRACE"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ HISTORY_KEY: "chat history" }, "HISTORY_KEY"],
    [{ MAX_LINE_BYTES: "10" }, "MAX_LINE_BYTES"],
    [{ QUEUE_LIMIT: "lots" }, "QUEUE_LIMIT"],
    [{ MAX_CONNECTIONS: "0" }, "MAX_CONNECTIONS"],
  ];
  for (const [env, setting] of cases) refuses([], env, setting);
});

Deno.test("a REDIS_URL whose credentials hold a malformed percent escape is a ConfigError naming REDIS_URL", () => {
  // A raw "%" in a password is an easy mistake; it must be reported like any
  // other bad value, not crash start-up with a bare URIError.
  const error = refuses([], { REDIS_URL: "redis://chat:100%zz@redis:6379" }, "REDIS_URL");
  assert.ok(!error.message.includes("100%zz"), "the password is not echoed");
  refuses([], { REDIS_URL: "redis://us%er@redis:6379" }, "REDIS_URL");
});

Deno.test("an invalid flag value is reported under the flag's name", () => {
  refuses(["--port", "abc"], {}, "--port");
  refuses(["--log-level", "loud"], {}, "--log-level");
});

Deno.test("--help and -h ask for the usage text", () => {
  assert.deepEqual(parseConfig(["--help"], {}), { kind: "help" });
  assert.deepEqual(parseConfig(["-h"], { PORT: "abc" }), { kind: "help" });
});

Deno.test("an unknown flag throws a ConfigError naming the arguments", () => {
  refuses(["--colour", "blue"], {}, "arguments");
});

Deno.test("two positional arguments throw a ConfigError naming the arguments", () => {
  refuses(["7000", "7001"], {}, "arguments");
});

Deno.test("HISTORY_REPLAY larger than HISTORY_LIMIT is capped at the limit", () => {
  const config = run([], { HISTORY_LIMIT: "100", HISTORY_REPLAY: "5000" });
  assert.equal(config.historyLimit, 100);
  assert.equal(config.historyReplay, 100);
  assert.equal(run([], { HISTORY_LIMIT: "100", HISTORY_REPLAY: "20" }).historyReplay, 20);
  assert.equal(run([], { HISTORY_REPLAY: "0" }).historyReplay, 0);
});

Deno.test("variables outside ENV_VARS are ignored", () => {
  const config = run([], { REDIS: "redis://x", HOSTNAME: "pod-1", PORT_6000_TCP: "tcp://1.2.3.4" });
  assert.equal(config.redis, null);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.port, 6000);
});

Deno.test("the server task's --allow-env lists exactly the variables in ENV_VARS", async () => {
  const text = await Deno.readTextFile(new URL("../../deno.json", import.meta.url));
  const task: string = JSON.parse(text).tasks.server;
  const match = task.match(/--allow-env=(\S+)/);
  assert.ok(match, `the server task has --allow-env=<names>: ${task}`);
  const allowed = match[1].split(",");
  assert.equal(new Set(allowed).size, allowed.length, "no name is listed twice");
  assert.deepEqual([...allowed].sort(), [...ENV_VARS].sort());
  assert.ok(!/--allow-env(\s|$)/.test(task), "no unrestricted --allow-env as well");
});

Deno.test("REDIS_SENTINELS and REDIS_SENTINEL_MASTER select Sentinel, with the credentials", () => {
  const config = run([], {
    REDIS_SENTINELS: "s1:26379, 10.0.0.2:26380",
    REDIS_SENTINEL_MASTER: "chat",
    REDIS_PASSWORD: "pw",
    REDIS_MIN_REPLICAS_ACK: "1",
  });
  assert.deepEqual(config.redis, {
    url: "redis-sentinel://s1:26379,10.0.0.2:26380/chat",
    username: undefined,
    password: "pw",
    sentinels: [{ host: "s1", port: 26379 }, { host: "10.0.0.2", port: 26380 }],
    sentinelMaster: "chat",
    minReplicasAck: 1,
  });
  assert.equal(run([], { REDIS_SENTINELS: "s1:26379" }).redis?.sentinelMaster, "mymaster");
});

Deno.test("REDIS_CLUSTER_NODES selects Cluster with its seed nodes", () => {
  const config = run([], { REDIS_CLUSTER_NODES: "n1:7000,n2:7001" });
  assert.deepEqual(config.redis?.clusterNodes, [
    { host: "n1", port: 7000 },
    { host: "n2", port: 7001 },
  ]);
  assert.equal(config.redis?.url, "redis-cluster://n1:7000,n2:7001");
});

Deno.test("Sentinel and Cluster settings that contradict each other are refused by name", () => {
  const refused = (env: Record<string, string>, setting: string) =>
    assert.throws(
      () => parseConfig([], env),
      (e: unknown) => (e as ConfigError).setting === setting,
    );
  refused({ REDIS_SENTINELS: "s1" }, "REDIS_SENTINELS");
  refused({ REDIS_CLUSTER_NODES: "n1:0" }, "REDIS_CLUSTER_NODES");
  refused({ REDIS_SENTINELS: "s1:1", REDIS_CLUSTER_NODES: "n1:2" }, "REDIS_CLUSTER_NODES");
  refused({ REDIS_SENTINEL_MASTER: "m" }, "REDIS_SENTINEL_MASTER");
  refused({ REDIS_SENTINELS: "s1:1", REDIS_URL: "redis://r" }, "REDIS_URL");
  refused({ REDIS_MIN_REPLICAS_ACK: "1" }, "REDIS_MIN_REPLICAS_ACK");
  refused({ REDIS_HOST: "r", REDIS_MIN_REPLICAS_ACK: "-1" }, "REDIS_MIN_REPLICAS_ACK");
});

Deno.test("TLS_CERT and TLS_KEY together turn on TLS on TLS_PORT; one alone is an error naming it", () => {
  assert.equal(run([], {}).tls, null);
  assert.deepEqual(run([], { TLS_CERT: "/c.pem", TLS_KEY: "/k.pem" }).tls, {
    port: 6697,
    certFile: "/c.pem",
    keyFile: "/k.pem",
  });
  assert.equal(run(["--tls-port", "7000"], { TLS_CERT: "/c", TLS_KEY: "/k" }).tls?.port, 7000);
  refuses([], { TLS_CERT: "/c.pem" }, "TLS_CERT");
  refuses([], { TLS_KEY: "/k.pem" }, "TLS_KEY");
});

Deno.test("PORT=off turns the plain port off, but only when TLS is on", () => {
  assert.equal(run([], { PORT: "off", TLS_CERT: "/c", TLS_KEY: "/k" }).port, null);
  refuses([], { PORT: "off" }, "PORT");
});

Deno.test("REDIS_CA goes with a rediss:// URL, and is an error with plain redis://", () => {
  const config = run([], { REDIS_URL: "rediss://redis.example:6380", REDIS_CA: "/ca.pem" });
  assert.equal(config.redis?.caFile, "/ca.pem");
  refuses([], { REDIS_URL: "redis://redis.example", REDIS_CA: "/ca.pem" }, "REDIS_CA");
  refuses([], { REDIS_CA: "/ca.pem" }, "REDIS_CA");
});
