/**
 * The old service's users keep their Python client: a real Python process
 * that speaks exactly as that client did (name and messages as single writes
 * without line breaks, history read up to HISTORY_END, "exit" to leave)
 * chats with a modern text client through a real server on Redis data that
 * the old service wrote.
 */

import assert from "node:assert/strict";
import { TextClient } from "../helpers/client.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";
import { sleep } from "../../lib/util/deadline.ts";

const python = await new Deno.Command("python3", { args: ["--version"], stdout: "null" })
  .output().then((out) => out.success, () => false);

Deno.test({
  name: "the old Python client sees old and new history, chats both ways and leaves with exit",
  ignore: !python,
  async fn() {
    await using redis = await RedisServer.start();
    await redis.command("RPUSH", "chat_history", "[alice]: written by the old service");
    await using server = await ServerProcess.start({ env: { REDIS_URL: redis.url } });
    const { client: bob } = await TextClient.join(server.port, "bob");
    bob.send("written by the new service");
    await bob.sync();

    const old = new Deno.Command("python3", {
      args: [
        new URL("../helpers/old_chat_client.py", import.meta.url).pathname,
        "127.0.0.1",
        String(server.port),
        "carol",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = old.output();
    const input = old.stdin.getWriter();
    const type = (line: string) => input.write(new TextEncoder().encode(`${line}\n`));

    await bob.readUntil("* carol joined");
    await type("hello from python");
    assert.equal(await bob.nextMessage(), "[carol]: hello from python");
    bob.send("hello carol");
    await bob.sync();
    // Let the reply arrive before the old client leaves.
    await sleep(300);
    await type("exit");
    await input.close();
    await bob.readUntil("* carol left");

    const result = await output;
    const stdout = new TextDecoder().decode(result.stdout);
    assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
    const [history, live] = stdout.split("-- history end --\n");
    assert.deepEqual(history.trim().split("\n"), [
      "[alice]: written by the old service",
      "[bob]: written by the new service",
    ]);
    assert.match(live, /\[bob\]: hello carol/);
    await bob.close();
  },
});
