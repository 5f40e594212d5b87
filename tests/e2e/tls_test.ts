/**
 * TLS on the chat port, with real server processes and certificates made by
 * `openssl` for the test (a CA and a separate leaf signed by it): a real
 * handshake from `Deno.connectTls` and from the client (`--tls --ca`), the
 * plain port still serving the old text protocol beside it, a certificate
 * nobody vouches for refused, and SIGHUP replacing the certificate while
 * open connections stay.
 */

import assert from "node:assert/strict";
import { LineClient } from "../helpers/in_process_server.ts";
import { makeCertificates, type TestCertificates } from "../helpers/certs.ts";
import { freePort } from "../helpers/redis.ts";
import { poll } from "../helpers/poll.ts";
import { baseEnv, ServerProcess } from "../helpers/server.ts";
import { clientTaskFlags } from "../helpers/client_process.ts";

const ROOT = new URL("../../", import.meta.url);

function tlsEnv(certs: TestCertificates, tlsPort: number): Record<string, string> {
  return { TLS_CERT: certs.certFile, TLS_KEY: certs.keyFile, TLS_PORT: String(tlsPort) };
}

/** Joins as `user` in text mode over TLS, trusting the test CA. */
async function joinTls(port: number, caPem: string, user: string): Promise<LineClient> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] });
  const client = new LineClient(conn);
  await client.send(user);
  await client.readUntil((line) => line === "HISTORY_END");
  return client;
}

/** The certificate the server at `port` presents now, as PEM, read by `openssl s_client`. */
async function servedCertificate(port: number): Promise<string> {
  const { stdout } = await new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"],
    stdin: "null",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(stdout);
  const match = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(text);
  assert.ok(match, `no certificate in:\n${text}`);
  return match[0];
}

Deno.test("over TLS with a test CA: Deno.connectTls and the client join, the plain port still speaks text, an untrusted certificate is refused", async () => {
  await using certs = await makeCertificates();
  const tlsPort = await freePort();
  await using server = await ServerProcess.start({ env: tlsEnv(certs, tlsPort) });
  await using carol = await joinTls(tlsPort, certs.caPem, "carol");

  // The old protocol on the plain port, beside TLS.
  await using plain = new LineClient(
    await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
  );
  await plain.send("nc-user");
  await plain.readUntil((line) => line === "HISTORY_END");
  await plain.send("hello in clear");
  await carol.readUntil((line) => line === "[nc-user]: hello in clear");

  const client = new Deno.Command("deno", {
    args: [
      "run",
      ...await clientTaskFlags(),
      `--allow-read=${certs.caFile}`,
      "client.ts",
      "--tls",
      "--ca",
      certs.caFile,
      "localhost",
      String(tlsPort),
      "dave",
    ],
    cwd: ROOT,
    clearEnv: true,
    env: baseEnv(),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const input = client.stdin.getWriter();
  await input.write(new TextEncoder().encode("hi over tls\n"));
  await carol.readUntil((line) => line === "[dave]: hi over tls");
  await input.close();
  const { code } = await client.output();
  assert.equal(code, 0);

  // Without the test CA, the client does not trust the server.
  await assert.rejects(async () => {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: tlsPort });
    try {
      await conn.handshake();
    } finally {
      conn.close();
    }
  });
});

Deno.test("SIGHUP re-reads the certificate: open TLS connections stay, new ones get the new certificate; PORT=off serves TLS only", async () => {
  await using certs = await makeCertificates();
  const tlsPort = await freePort();
  await using server = await ServerProcess.start({
    env: { ...tlsEnv(certs, tlsPort), PORT: "off" },
  });
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
  const first = await servedCertificate(tlsPort);
  await using erin = await joinTls(tlsPort, certs.caPem, "erin");

  const renewed = (await certs.renew()).trim();
  assert.notEqual(renewed, first);
  server.signal("SIGHUP");
  await poll("the reload", () => server.logs.includes("TLS certificate reloaded"));

  await using frank = await joinTls(tlsPort, certs.caPem, "frank");
  await erin.readUntil((line) => line === "* frank joined");
  await erin.send("still here");
  await frank.readUntil((line) => line === "[erin]: still here");
  assert.equal(await servedCertificate(tlsPort), renewed);

  // A broken certificate is not taken; the one in use stays.
  await Deno.writeTextFile(certs.certFile, "not a certificate");
  server.signal("SIGHUP");
  await poll("the refusal", () => server.logs.includes("TLS certificate not reloaded"));
  assert.equal(await servedCertificate(tlsPort), renewed);
});
