/**
 * The browser client end to end: the real server process (its web port
 * serving the page bundled by `deno task bundle`), pages in a real headless
 * Chromium (`/usr/bin/chromium`, driven by npm `playwright-core`), and TCP
 * clients in the same room.
 *
 * Screenshots are written to a temporary directory printed in the log, to be
 * looked at by a person.
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import {
  bundlePage,
  join,
  messages,
  online,
  say,
  shows,
  webPort,
  withBrowser,
} from "../helpers/browser.ts";
import { TextClient } from "../helpers/client.ts";
import { poll } from "../helpers/poll.ts";
import { freePort } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

await bundlePage();

const shots = await Deno.makeTempDir({ prefix: "chat-web-" });
console.log(`screenshots in ${shots}`);

Deno.test("two browser users and a TCP user chat with each other both ways, markup shown as text", async () => {
  await using server = await ServerProcess.start();
  const url = `http://127.0.0.1:${await webPort(server)}/`;
  await withBrowser(async (browser) => {
    const alice = await join(browser, url, "alice");
    // Phone-sized.
    const bob = await join(browser, url, "bob", 375);
    const { client: carol } = await TextClient.join(server.port, "carol");
    try {
      await say(alice, "hello from alice");
      await shows(bob, "hello from alice");
      await carol.readUntil((line) => line === "[alice]: hello from alice");

      await carol.send("hi from carol");
      await shows(alice, "hi from carol");
      await shows(bob, "hi from carol");

      const img = `<img src=x onerror="window.pwned=1">`;
      const script = `<script>window.pwned=2</script>`;
      await say(bob, img);
      await shows(bob, img);
      await say(bob, script);
      await shows(alice, script);
      await carol.readUntil((line) => line === `[bob]: ${script}`);
      assert.deepEqual(await messages(alice), ["hello from alice", "hi from carol", img, script]);
      assert.equal(await alice.locator("#log img, #log script").count(), 0);
      assert.equal(await alice.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined);

      // Who is online: the browser users and the TCP user.
      await poll(
        "alice, bob and carol listed online",
        async () => (await alice.locator("#who li").allTextContents()).join() === "alice,bob,carol",
      );
      assert.equal(await alice.locator("#log li.own").count(), 1, "alice's own message is marked");
      await alice.screenshot({ path: `${shots}/chat-web-alice.png` });
      await bob.screenshot({ path: `${shots}/chat-web-bob-375px.png` });
    } finally {
      await carol.close();
    }
  });
});

Deno.test("a reload resumes after the last message shown, nothing missing or doubled", async () => {
  await using server = await ServerProcess.start();
  const url = `http://127.0.0.1:${await webPort(server)}/`;
  await withBrowser(async (browser) => {
    const { client: carol } = await TextClient.join(server.port, "carol");
    try {
      const page = await join(browser, url, "alice");
      for (const text of ["one", "two", "three"]) await carol.send(text);
      await shows(page, "three");
      const reloaded = page.reload();
      for (const text of ["four", "five"]) await carol.send(text);
      await reloaded;
      await online(page);
      await say(page, "six");
      await shows(page, "six");
      assert.deepEqual(await messages(page), ["one", "two", "three", "four", "five", "six"]);
    } finally {
      await carol.close();
    }
  });
});

Deno.test("the page survives a server restart: it reconnects and resumes", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-data-" });
  const port = await freePort();
  const env = { WEB_PORT: String(await freePort()) };
  const url = `http://127.0.0.1:${env.WEB_PORT}/`;
  try {
    await withBrowser(async (browser) => {
      let page: Page;
      {
        await using first = await ServerProcess.start({ dataDir, port, env });
        await webPort(first);
        page = await join(browser, url, "alice");
        await say(page, "before the restart");
        await shows(page, "before the restart");
      }
      await page.locator('#state:not([data-state="online"])').waitFor();
      await using second = await ServerProcess.start({ dataDir, port, env });
      await webPort(second);
      await online(page);
      const { client: carol } = await TextClient.join(second.port, "carol");
      try {
        await carol.send("after the restart");
        await shows(page, "after the restart");
        await say(page, "still here");
        await carol.readUntil((line) => line === "[alice]: still here");
        assert.deepEqual(await messages(page), [
          "before the restart",
          "after the restart",
          "still here",
        ]);
      } finally {
        await carol.close();
      }
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a page from another origin cannot open the chat's WebSocket", async () => {
  await using server = await ServerProcess.start();
  const chat = `ws://127.0.0.1:${await webPort(server)}/ws`;
  // The other site: any page not served by the chat server.
  const other = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response("<!doctype html><title>elsewhere</title>", {
        headers: { "content-type": "text/html" },
      }),
  );
  try {
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${other.addr.port}/`);
      const outcome = await page.evaluate((target) =>
        new Promise<string>((resolve) => {
          const socket = new WebSocket(target);
          socket.onopen = () => resolve("open");
          socket.onclose = () => resolve("closed");
        }), chat);
      assert.equal(outcome, "closed");
    });
    await poll("the refusal logged", () => server.logs.includes("web socket refused"));
  } finally {
    await other.shutdown();
  }
});
