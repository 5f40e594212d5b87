/**
 * Redis over TLS (`rediss://`) with a private CA (`REDIS_CA`): a real
 * redis-server serving TLS with a certificate made by `openssl` for the
 * test, reached by the accounts' connection, which every Redis connection
 * of the server shares with (`redis_connection.ts`).
 */

import assert from "node:assert/strict";
import { createLogger } from "../../lib/ops/log.ts";
import { RedisAccounts } from "../../lib/store/redis_accounts.ts";
import { makeCertificates } from "../helpers/certs.ts";
import { poll } from "../helpers/poll.ts";
import { freePort } from "../helpers/redis.ts";

Deno.test("rediss:// with REDIS_CA reaches a Redis whose certificate that CA signed", async () => {
  await using certs = await makeCertificates();
  const port = await freePort();
  const redis = new Deno.Command("redis-server", {
    args: [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--tls-cert-file",
      certs.certFile,
      "--tls-key-file",
      certs.keyFile,
      "--tls-ca-cert-file",
      certs.caFile,
      "--tls-auth-clients",
      "no",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      certs.dir,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await poll("redis-server listening", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return false;
      }
    });
    const accounts = await RedisAccounts.connect({
      redis: { url: `rediss://127.0.0.1:${port}`, caFile: certs.caFile },
      historyKey: "chat_history",
      logger: createLogger("error", () => {}),
    });
    try {
      const record = { alg: "scrypt", N: 16384, r: 8, p: 1, salt: "AA==", hash: "AA==" } as const;
      assert.equal(await accounts.create("alice", record), true);
      assert.deepEqual(await accounts.get("ALICE"), record);
    } finally {
      await accounts.close();
    }
  } finally {
    redis.kill("SIGTERM");
    await redis.status;
  }
});
