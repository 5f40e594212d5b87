/**
 * The browser page with the server's security features, end to end: the
 * real server process, pages in a real headless Chromium, TCP users in the
 * same room.
 *
 * - HTTPS and `wss://` on the web port with a test CA and leaf made by
 *   `openssl`; Chromium trusts exactly that leaf's key
 *   (`--ignore-certificate-errors-spki-list`), and SIGHUP swaps the
 *   certificate without closing the page's WebSocket.
 * - A registered name needs its password from the page too.
 * - After a SIGKILL the page takes its name back at once with its resume
 *   token, and a history the server lost is shown afresh, marked as reset.
 *
 * A screenshot of the join form asking for a password is written to a
 * temporary directory printed in the log, to be looked at by a person.
 */

import assert from "node:assert/strict";
import {
  bundlePage,
  join,
  messages,
  online,
  open,
  say,
  shows,
  submitJoin,
  webPort,
  withBrowser,
} from "../helpers/browser.ts";
import { makeCertificates } from "../helpers/certs.ts";
import { TextClient } from "../helpers/client.ts";
import { poll } from "../helpers/poll.ts";
import { freePort, RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

await bundlePage();

const shots = await Deno.makeTempDir({ prefix: "chat-web-accounts-" });
console.log(`screenshots in ${shots}`);

/** The base64 SHA-256 of the public key in a PKCS#8 PEM key file, as Chromium's SPKI list wants it. */
async function spkiHash(keyFile: string): Promise<string> {
  const pem = await Deno.readTextFile(keyFile);
  const der = Uint8Array.from(
    atob(pem.replace(/-----[^-]+-----/g, "").replace(/\s/g, "")),
    (char) => char.charCodeAt(0),
  );
  const key = await crypto.subtle.importKey(
    "pkcs8",
    der,
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    true,
    ["sign"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: jwk.kty, n: jwk.n, e: jwk.e },
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    true,
    ["verify"],
  );
  const spki = await crypto.subtle.exportKey("spki", publicKey);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", spki));
  return btoa(String.fromCharCode(...digest));
}

Deno.test("over https the page loads, its wss:// socket chats with a TCP user, and SIGHUP swaps the certificate without closing it", async () => {
  await using certs = await makeCertificates();
  await using server = await ServerProcess.start({
    // A TLS port of its own: the web port must not try to take it.
    env: { TLS_CERT: certs.certFile, TLS_KEY: certs.keyFile, TLS_PORT: String(await freePort()) },
  });
  const port = await webPort(server);
  const trusted = `--ignore-certificate-errors-spki-list=${await spkiHash(certs.keyFile)}`;
  await withBrowser(async (browser) => {
    const { client: carol } = await TextClient.join(server.port, "carol");
    try {
      const page = await join(browser, `https://127.0.0.1:${port}/`, "alice");
      assert.equal(page.url(), `https://127.0.0.1:${port}/`);
      await say(page, "hello over wss");
      await carol.readUntil((line) => line === "[alice]: hello over wss");

      await certs.renew();
      server.signal("SIGHUP");
      await poll(
        "the web port's reload",
        () => new RegExp(`TLS certificate reloaded.*port=${port}\\b`).test(server.logs),
      );
      // The page's socket was made before the reload and stays open.
      await carol.send("after the reload");
      await shows(page, "after the reload");
      await say(page, "still on the same socket");
      await carol.readUntil((line) => line === "[alice]: still on the same socket");
      assert.equal(await page.locator("#state").getAttribute("data-state"), "online");
      assert.ok(!server.logs.includes("alice left"), server.logs);

      // New connections get the new certificate, which the same CA signed.
      const client = Deno.createHttpClient({ caCerts: [certs.caPem] });
      try {
        const response = await fetch(`https://127.0.0.1:${port}/`, { client });
        assert.equal(response.status, 200);
        await response.body?.cancel();
      } finally {
        client.close();
      }
    } finally {
      await carol.close();
    }
  }, [trusted]);
  // Nothing is served in clear on the web port once it has a certificate.
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
});

Deno.test("a name registered by a TCP user cannot be joined from the page without its password; with it, it can", async () => {
  await using server = await ServerProcess.start();
  const url = `http://127.0.0.1:${await webPort(server)}/`;
  await withBrowser(async (browser) => {
    const { client: carol } = await TextClient.join(server.port, "carol");
    try {
      const { client: dave } = await TextClient.join(server.port, "dave");
      try {
        await dave.send("/register correct-horse");
        await dave.readUntil((line) =>
          line === "* dave is registered: from now on it needs your password"
        );
        await dave.send("exit");
      } finally {
        await dave.close();
      }
      await carol.readUntil((line) => line === "* dave left");

      const page = await open(browser, url, 420);
      await submitJoin(page, "dave");
      const error = page.locator("#join-error");
      await error.filter({ hasText: "registered" }).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator("#password:focus").count(), 1, "the password has the focus");

      await submitJoin(page, "dave", "wrong-password");
      await error.filter({ hasText: "Wrong password" }).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator("#password").inputValue(), "", "the field is emptied");
      assert.equal(await page.locator("#password").getAttribute("type"), "password");
      await page.screenshot({ path: `${shots}/chat-web-password.png` });

      await submitJoin(page, "dave", "correct-horse");
      await online(page);
      await say(page, "it is really dave");
      await carol.readUntil((line) => line === "[dave]: it is really dave");
      // The password is in no storage the page can read back.
      const stored = await page.evaluate(() =>
        JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage })
      );
      assert.ok(!stored.includes("correct-horse"), stored);
    } finally {
      await carol.close();
    }
  });
});

Deno.test("after a SIGKILL the page takes its name back from a restarted server at once with its resume token", async () => {
  await using redis = await RedisServer.start();
  // The dead server's claim on the name outlives the test unless the token takes it back.
  const env = { REDIS_URL: redis.url, PRESENCE_TTL: "120" };
  await using first = await ServerProcess.start({ env });
  const port = await webPort(first);
  const webEnv = { ...env, WEB_PORT: String(port) };
  let second: ServerProcess | undefined;
  try {
    await withBrowser(async (browser) => {
      const page = await join(browser, `http://127.0.0.1:${port}/`, "alice");
      await say(page, "before the crash");
      await shows(page, "before the crash");
      await first.stop("SIGKILL");
      await page.locator('#state:not([data-state="online"])').waitFor();
      second = await ServerProcess.start({ env: webEnv, port: first.port });
      await online(page);
      assert.match(second.logs, /name taken back/);
      const { client: carol } = await TextClient.join(second.port, "carol");
      try {
        await carol.send("after the crash");
        await shows(page, "after the crash");
        await say(page, "alice again");
        await carol.readUntil((line) => line === "[alice]: alice again");
        assert.deepEqual(await messages(page), [
          "before the crash",
          "after the crash",
          "alice again",
        ]);
      } finally {
        await carol.close();
      }
    });
  } finally {
    await second?.[Symbol.asyncDispose]();
  }
});

Deno.test("a history the server lost is shown afresh under a visible 'history was reset' line", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-data-" });
  try {
    await using first = await ServerProcess.start({ dataDir });
    const port = await webPort(first);
    const env = { WEB_PORT: String(port) };
    let second: ServerProcess | undefined;
    try {
      await withBrowser(async (browser) => {
        const page = await join(browser, `http://127.0.0.1:${port}/`, "alice");
        await say(page, "soon forgotten");
        await shows(page, "soon forgotten");
        await first.stop("SIGKILL");
        // The store's data is lost: a new history, with a new epoch.
        for (const entry of Deno.readDirSync(dataDir)) {
          await Deno.remove(`${dataDir}/${entry.name}`);
        }
        second = await ServerProcess.start({ dataDir, env, port: first.port });
        await page.locator("#log li.notice.warning", { hasText: "History was reset" }).waitFor({
          timeout: 15_000,
        });
        await online(page);
        await say(page, "a fresh start");
        await shows(page, "a fresh start");
        assert.deepEqual(await messages(page), ["a fresh start"]);
      });
    } finally {
      await second?.[Symbol.asyncDispose]();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
