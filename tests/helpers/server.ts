/**
 * Starts the real chat server (`server.ts`) as a child process for a test,
 * with exactly the Deno permissions of the `server` task in `deno.json`, and
 * stops it by its own PID.
 *
 * The data directory permission of the task (`$CHAT_DATA`) is pointed at the
 * test's temporary directory, and the files it may read (`$TLS_CERT`,
 * `$TLS_KEY`, `$REDIS_CA`) at the test's when it sets them; nothing else
 * about the command line is changed. The
 * child's environment holds only what the test passes (plus what Deno itself
 * needs to find its cache), so a developer's own REDIS_* never leaks in.
 *
 * @module
 */

import { freePort } from "./redis.ts";

const ROOT = new URL("../../", import.meta.url);

/** Options for {@linkcode startServer}. */
export interface StartServerOptions {
  /** Extra environment variables (PORT is set for you unless given). */
  env?: Record<string, string>;
  /** Extra command-line arguments after `server.ts`. */
  args?: string[];
  /** Data directory; a fresh temporary one when omitted. */
  dataDir?: string;
  /** Chat port; a free one when omitted. */
  port?: number;
  /** Start it as users do, with `deno task server` (which grants the data directory). */
  viaTask?: boolean;
}

/**
 * The permission flags of the `server` task, with `$CHAT_DATA` replaced by
 * `dataDir` and the task's other variables by `env`'s values or, as the
 * task does, its defaults.
 */
export async function serverTaskFlags(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const task: string = config.tasks.server;
  const defaults = Object.fromEntries(
    [...task.matchAll(/\|\| (\w+)=(\S+) &&/g)].map((match) => [match[1], match[2]]),
  );
  const values: Record<string, string> = { ...defaults, ...env, CHAT_DATA: dataDir };
  const words = task.split(/\s+/);
  const flags = words.slice(words.indexOf("run") + 1, words.indexOf("server.ts"));
  return flags.map((flag) =>
    /^--allow-(read|write)=/.test(flag)
      ? flag.replaceAll('"', "").replace(/\$(\w+)/g, (_, name) => values[name])
      : flag
  );
}

/** Environment a Deno child needs to find its caches, taken from this process. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", "NO_COLOR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A chat server child process. */
export class ServerProcess {
  readonly port: number;
  readonly dataDir: string;
  readonly #child: Deno.ChildProcess;
  readonly #logs: string[] = [];
  readonly #drained: Promise<void>;
  #status: Promise<Deno.CommandStatus>;
  #listening!: () => void;
  readonly #ready = new Promise<void>((resolve) => this.#listening = resolve);

  /** Whether the data directory was made for this server, and so is deleted with it. */
  readonly #ownsDataDir: boolean;

  private constructor(
    child: Deno.ChildProcess,
    port: number,
    dataDir: string,
    ownsDataDir: boolean,
  ) {
    this.#ownsDataDir = ownsDataDir;
    this.#child = child;
    this.port = port;
    this.dataDir = dataDir;
    this.#status = child.status;
    this.#drained = this.#collect();
  }

  /** Spawns the server and resolves once it listens. */
  static async start(options: StartServerOptions = {}): Promise<ServerProcess> {
    const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "chat-data-" });
    const port = options.port ?? await freePort();
    const child = new Deno.Command("deno", {
      args: options.viaTask ? ["task", "server", ...options.args ?? []] : [
        "run",
        ...await serverTaskFlags(dataDir, options.env),
        "server.ts",
        ...options.args ?? [],
      ],
      cwd: ROOT,
      clearEnv: true,
      // HTTP_PORT and WEB_PORT 0: any free port, read back from the log (see httpPort).
      env: {
        ...baseEnv(),
        PORT: String(port),
        HTTP_PORT: "0",
        WEB_PORT: "0",
        CHAT_DATA: dataDir,
        ...options.env,
      },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const server = new ServerProcess(child, port, dataDir, options.dataDir === undefined);
    try {
      await server.#waitUntilListening();
    } catch (error) {
      // It never served: its data directory goes with it.
      await server[Symbol.asyncDispose]();
      throw error;
    }
    return server;
  }

  /** The port of the health, readiness and metrics endpoints. */
  get httpPort(): number {
    // Text logs say port=N, JSON logs "port":N.
    const match = this.logs.match(/http listening.*?\bport"?[=:](\d+)/);
    if (!match) throw new Error(`the server logged no HTTP port:\n${this.logs}`);
    return Number(match[1]);
  }

  /** The server's process id (the child is `deno run ... server.ts` itself). */
  get pid(): number {
    return this.#child.pid;
  }

  /**
   * The server's resident memory in bytes (`VmRSS` in `/proc/<pid>/status`),
   * for tests that check memory stays bounded on the real process. Deno lets
   * only `--allow-all` read `/proc`, so the file is read by `python3`, which
   * the test task may already run (for the old client).
   */
  async rssBytes(): Promise<number> {
    const path = `/proc/${this.pid}/status`;
    const { success, stdout, stderr } = await new Deno.Command("python3", {
      args: ["-c", "import sys; sys.stdout.write(open(sys.argv[1]).read())", path],
      stdin: "null",
    }).output();
    const decoder = new TextDecoder();
    if (!success) throw new Error(`cannot read ${path}: ${decoder.decode(stderr)}`);
    const match = decoder.decode(stdout).match(/^VmRSS:\s+(\d+) kB$/m);
    if (!match) throw new Error(`no VmRSS in ${path}`);
    return Number(match[1]) * 1024;
  }

  /** Everything the server logged so far. */
  get logs(): string {
    return this.#logs.join("");
  }

  /** The exit status, once it has exited. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  /** Sends `signal` (e.g. SIGHUP) without waiting for anything. */
  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Sends `signal` (SIGTERM by default) and waits for the exit status. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // Already exited.
    }
    const status = await this.#status;
    await this.#drained;
    return status;
  }

  /** Stops the server (killing it after 25 s) and deletes the data directory it made. */
  async [Symbol.asyncDispose](): Promise<void> {
    const killer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }, 25_000);
    await this.stop();
    clearTimeout(killer);
    if (this.#ownsDataDir) {
      await Deno.remove(this.dataDir, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
  }

  async #waitUntilListening(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      this.#ready.then(() => "ready" as const),
      this.#status.then(() => "exited" as const),
      new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), 30_000)),
    ]);
    clearTimeout(timer);
    if (outcome === "ready") return;
    if (outcome === "timeout") await this.stop("SIGKILL");
    await this.#drained;
    throw new Error(`chat server did not start (${outcome}):\n${this.logs}`);
  }

  async #collect(): Promise<void> {
    for await (const text of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
      // The marker may be split across chunks; the previous chunk's end covers that.
      const tail = this.#logs.at(-1)?.slice(-64) ?? "";
      this.#logs.push(text);
      if ((tail + text).includes("chat server listening")) this.#listening();
    }
  }
}
