/**
 * `deno task compile`: the permissions baked into `dist/chat-server` and
 * `dist/chat-client`, and, when a Deno runtime for compiling is available,
 * both binaries built and run end to end.
 *
 * `deno compile` needs `denort`, which Deno downloads on first use. It is
 * found through `DENORT_BIN` or in Deno's cache
 * (`$DENO_DIR/dl/release/v<version>/denort-<target>.zip`). The build
 * machines cannot download it, so without either the end-to-end test is
 * registered as ignored, with the reason in its name.
 *
 * Running the binaries needs `--allow-run=dist/chat-server,dist/chat-client`.
 */

import assert from "node:assert/strict";
import { JsonClient } from "../helpers/client.ts";
import { ClientProcess, clientTaskFlags } from "../helpers/client_process.ts";
import { freePort } from "../helpers/redis.ts";
import { baseEnv } from "../helpers/server.ts";

const ROOT = new URL("../../", import.meta.url);

interface Tasks {
  server: string;
  client: string;
  compile: string;
}

const tasks: Tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks;

/** The flags of one `deno compile` command of the compile task, without `--output`. */
function compileFlags(output: string): { flags: string[]; entry: string } {
  const command = tasks.compile.split("&&").map((part) => part.trim().split(/\s+/))
    .find((words) => words.includes(`dist/${output}`));
  assert.ok(command, `the compile task builds dist/${output}`);
  assert.deepEqual(command.slice(0, 2), ["deno", "compile"]);
  const at = command.indexOf("--output");
  assert.equal(command[at + 1], `dist/${output}`);
  const rest = command.slice(2).filter((_, i) => i + 2 !== at && i + 2 !== at + 1)
    .filter((word, i, words) => word !== "--include" && words[i - 1] !== "--include");
  return { flags: rest.slice(0, -1), entry: rest.at(-1)! };
}

async function output(args: string[]): Promise<string> {
  const result = await new Deno.Command("deno", { args, env: baseEnv(), clearEnv: true }).output();
  return new TextDecoder().decode(result.stdout);
}

/** Where `deno compile` finds its runtime, or null when it would have to download it. */
async function findRuntime(): Promise<string | null> {
  const bin = Deno.env.get("DENORT_BIN");
  if (bin) return bin;
  const { denoDir } = JSON.parse(await output(["info", "--json"]));
  const version = /^deno (\S+)/.exec(await output(["--version"]))?.[1];
  const zip = `${denoDir}/dl/release/v${version}/denort-${Deno.build.target}.zip`;
  try {
    await Deno.stat(zip);
    return zip;
  } catch {
    return null;
  }
}

const runtime = await findRuntime();

Deno.test("compile task: the server embeds the bundled page, and the task bundles it first", () => {
  const command = tasks.compile.split("&&").map((part) => part.trim().split(/\s+/))
    .find((words) => words.includes("dist/chat-server"))!;
  assert.equal(command[command.indexOf("--include") + 1], "dist/web");
  assert.ok(tasks.compile.startsWith("deno task bundle && "));
});

Deno.test("compile task: the server gets exactly the server task's flags", () => {
  const server = tasks.server.split(/\s+/);
  const { flags, entry } = compileFlags("chat-server");
  assert.equal(entry, "server.ts");
  assert.deepEqual(flags, server.slice(server.indexOf("run") + 1, server.indexOf("server.ts")));
});

Deno.test("compile task: the client gets only --allow-net and the variables it reads", async () => {
  const { flags, entry } = compileFlags("chat-client");
  assert.equal(entry, "client.ts");
  assert.deepEqual(flags, ["--allow-net", "--allow-env=NO_COLOR,TERM"]);
  assert.deepEqual(await clientTaskFlags(), flags, "the client task runs with the same flags");
});

Deno.test({
  name: runtime
    ? "compiled server and client: a message sent by the client is in the server's history"
    : "compile e2e skipped: no denort runtime (DENORT_BIN unset, none cached); it cannot be downloaded here",
  ignore: runtime === null,
  async fn() {
    const env = baseEnv();
    const bin = Deno.env.get("DENORT_BIN");
    if (bin) env.DENORT_BIN = bin;
    const build = await new Deno.Command("deno", {
      args: ["task", "compile"],
      cwd: ROOT,
      clearEnv: true,
      env,
    }).output();
    assert.ok(build.success, new TextDecoder().decode(build.stderr));

    // The server's data directory is `data`, relative to where it runs.
    const dir = await Deno.makeTempDir({ prefix: "chat-compiled-" });
    const port = await freePort();
    const server = new Deno.Command(new URL("dist/chat-server", ROOT).pathname, {
      cwd: dir,
      clearEnv: true,
      env: { PORT: String(port) },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const logs = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let log = "";
      while (!log.includes("chat server listening on")) {
        const { value, done } = await logs.read();
        assert.ok(!done, `the compiled server exited:\n${log}`);
        log += value;
      }
      await using client = await ClientProcess.start(["127.0.0.1", String(port), "bot"], {
        executable: new URL("dist/chat-client", ROOT).pathname,
      });
      await client.write("compiled hello\nexit\n");
      assert.equal((await client.exit()).code, 0, client.stderr);
      const { client: auditor, history } = await JsonClient.join(port, "auditor");
      await auditor.close();
      assert.ok(
        history.some((event) => event.user === "bot" && event.text === "compiled hello"),
        JSON.stringify(history),
      );
      await Deno.stat(`${dir}/data`);
    } finally {
      server.kill("SIGTERM");
      await server.status;
      await logs.cancel();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
