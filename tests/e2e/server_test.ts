/**
 * End-to-end behaviour of the text protocol against a real server process,
 * once with the embedded store and once with a real redis-server: what `nc`
 * users and the old Python client see.
 */

import assert from "node:assert/strict";
import { TextClient } from "../helpers/client.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";
import { sleep } from "../../lib/util/deadline.ts";

/** Reads lines until `line` arrives, failing if it does not. */
async function expectLine(client: TextClient, line: string): Promise<void> {
  await client.readUntil(line);
}

/** Waits until a fresh reader sees `text` as the last history line. */
async function historyOf(port: number): Promise<string[]> {
  const { client, history } = await TextClient.join(
    port,
    `reader${crypto.randomUUID().slice(0, 8)}`,
  );
  await client.close();
  return history;
}

for (const mode of ["embedded", "Redis"] as const) {
  Deno.test(`text protocol with the ${mode} store`, async (t) => {
    await using redis = mode === "Redis" ? await RedisServer.start() : null;
    const env: Record<string, string> = redis ? { REDIS_URL: redis.url } : {};
    const dataDir = await Deno.makeTempDir({ prefix: "chat-data-" });
    let server = await ServerProcess.start({ env, dataDir, args: ["--handshake-timeout", "1"] });

    await t.step(
      "a newcomer gets the history oldest first, then HISTORY_END, then live lines",
      async () => {
        const { client: ann } = await TextClient.join(server.port, "ann");
        ann.send("first");
        ann.send("second");
        await ann.sync();
        const { client: bob, history } = await TextClient.join(server.port, "bob");
        assert.deepEqual(history.slice(-2), ["[ann]: first", "[ann]: second"]);
        await expectLine(ann, "* bob joined");
        ann.send("live");
        assert.equal(await bob.nextMessage(), "[ann]: live");
        await bob.close();
        await expectLine(ann, "* bob left");
        await ann.close();
      },
    );

    await t.step("the sender does not get its own message back, everyone else does", async () => {
      const { client: ann } = await TextClient.join(server.port, "ann");
      const { client: bob } = await TextClient.join(server.port, "bob");
      const { client: cat } = await TextClient.join(server.port, "cat");
      await expectLine(ann, "* cat joined");
      ann.send("hello all");
      assert.equal(await bob.nextMessage(), "[ann]: hello all");
      assert.equal(await cat.nextMessage(), "[ann]: hello all");
      ann.send("/quit");
      assert.ok((await ann.readToEnd()).every((line) => line.startsWith("* ")));
      await expectLine(bob, "* ann left");
      await Promise.all([ann.close(), bob.close(), cat.close()]);
    });

    await t.step("a client that behaves like the old Python client is served", async () => {
      // The old client writes its name and each message as one write with no
      // line break, reads until HISTORY_END appears, and leaves with "exit".
      const { client: watcher } = await TextClient.join(server.port, "watcher");
      const old = await TextClient.connect(server.port);
      await old.write("oldtimer");
      const history = await old.readUntil("HISTORY_END");
      assert.ok(history.includes("[ann]: hello all"), JSON.stringify(history));
      await expectLine(watcher, "* oldtimer joined");
      await old.write("hi from python");
      assert.equal(await watcher.nextMessage(), "[oldtimer]: hi from python");
      await sleep(200);
      await old.write("exit");
      await expectLine(watcher, "* oldtimer left");
      assert.ok((await old.readToEnd()).every((line) => line.startsWith("* ")));
      await Promise.all([old.close(), watcher.close()]);
    });

    await t.step("control characters and bidi overrides never reach another user", async () => {
      const { client: ann } = await TextClient.join(server.port, "ann");
      const { client: bob } = await TextClient.join(server.port, "bob");
      await expectLine(ann, "* bob joined");
      ann.send("\x1b[2J\x07evil\u202e txt\u0085");
      assert.equal(await bob.nextMessage(), "[ann]: [2Jevil txt");
      await Promise.all([ann.close(), bob.close()]);
      assert.equal((await historyOf(server.port)).at(-1), "[ann]: [2Jevil txt");
    });

    await t.step(
      "/help lists the commands, an unknown command is refused, // sends a leading slash",
      async () => {
        const { client: ann } = await TextClient.join(server.port, "ann");
        const { client: bob } = await TextClient.join(server.port, "bob");
        await expectLine(ann, "* bob joined");
        ann.send("/help");
        const help = await ann.readUntil((line) => line.includes("/quit"));
        assert.ok(help.every((line) => line.startsWith("* ")), JSON.stringify(help));
        ann.send("/shrug");
        assert.match(await ann.nextMessage(), /^! unknown command \/shrug/);
        ann.send("//shrug");
        assert.equal(await bob.nextMessage(), "[ann]: /shrug");
        await Promise.all([ann.close(), bob.close()]);
      },
    );

    await t.step(
      "an overlong line is refused with an error and the connection stays usable",
      async () => {
        const { client: ann } = await TextClient.join(server.port, "ann");
        const { client: bob } = await TextClient.join(server.port, "bob");
        await expectLine(ann, "* bob joined");
        ann.send("x".repeat(100_000));
        assert.match(await ann.nextMessage(), /^! line too long \(max 4096 bytes\)/);
        ann.send("short");
        assert.equal(await bob.nextMessage(), "[ann]: short");
        await Promise.all([ann.close(), bob.close()]);
      },
    );

    await t.step("a bad name is refused with a reason and the connection closed", async () => {
      for (const name of ["", "has space", "a/b", "x".repeat(33)]) {
        const client = await TextClient.connect(server.port);
        client.send(name);
        const lines = await client.readToEnd();
        assert.equal(lines.length, 1, JSON.stringify(lines));
        assert.match(lines[0], /^! invalid name: /);
        await client.close();
      }
    });

    await t.step(
      "an HTTP request gets a short HTTP answer naming the client and nobody sees a join",
      async () => {
        const { client: watcher } = await TextClient.join(server.port, "watcher");
        for (
          const request of [
            "GET / HTTP/1.1\r\nHost: chat\r\n\r\n",
            // The old deployment's load test ran `wget http://chat-server:6000`;
            // this is GNU Wget 1.21's request, byte for byte.
            "GET / HTTP/1.1\r\nHost: chat-server:6000\r\nUser-Agent: Wget/1.21.3\r\n" +
            "Accept: */*\r\nAccept-Encoding: identity\r\nConnection: Keep-Alive\r\n\r\n",
          ]
        ) {
          const http = await TextClient.connect(server.port);
          await http.write(request);
          // readToEnd returns once the server has closed the connection.
          const answer = (await http.readToEnd()).join("\n");
          assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
          assert.match(answer, /\r\nConnection: close\r\n/);
          assert.match(answer, /\r\n\r\n.*chat-client HOST PORT NAME/);
          assert.ok(answer.length < 512, `a ${answer.length}-character answer`);
          await http.close();
        }
        const scan = await TextClient.connect(server.port);
        await scan.close();
        const silent = await TextClient.connect(server.port);
        const lines = await silent.readToEnd(5_000);
        assert.match(lines[0], /^! no name received within 1 s/);
        // A marker proves the watcher's stream is current: nothing came before it.
        const { client: marker } = await TextClient.join(server.port, "marker");
        assert.deepEqual(await watcher.readUntil("* marker joined"), ["* marker joined"]);
        await Promise.all([silent.close(), marker.close(), watcher.close()]);
      },
    );

    await t.step("history survives a restart of the server", async () => {
      const { client: ann } = await TextClient.join(server.port, "ann");
      ann.send("remember me");
      await ann.sync();
      await ann.close();
      const before = await historyOf(server.port);
      assert.equal(before.at(-1), "[ann]: remember me");
      assert.equal((await server.stop()).code, 0);
      server = await ServerProcess.start({ env, dataDir });
      assert.deepEqual(await historyOf(server.port), before);
    });

    await t.step("on SIGTERM every client is told and the server exits 0", async () => {
      const { client: ann } = await TextClient.join(server.port, "ann");
      const status = server.stop();
      assert.equal((await ann.readToEnd()).at(-1), "* server shutting down");
      assert.equal((await status).code, 0);
      await ann.close();
    });

    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  });
}
