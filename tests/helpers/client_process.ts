/**
 * Runs the chat client (`client.ts`) as a child process with pipes for
 * stdin, stdout and stderr, the way a script would, with exactly the Deno
 * permissions of the `client` task in `deno.json`.
 *
 * Output is collected as it arrives so a test can wait for a line; stdin
 * can be written line by line or closed. The child's environment holds only
 * what Deno needs plus what the test passes.
 *
 * @module
 */

import { baseEnv } from "./server.ts";
import { sleep } from "../../lib/util/deadline.ts";

const ROOT = new URL("../../", import.meta.url);

const encoder = new TextEncoder();

/** The permission flags of the `client` task. */
export async function clientTaskFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const words: string[] = config.tasks.client.split(/\s+/);
  return words.slice(words.indexOf("run") + 1, words.indexOf("client.ts"));
}

/** Options for {@linkcode ClientProcess.start}. */
export interface ClientProcessOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Run this executable (a compiled client) instead of `deno run client.ts`. */
  executable?: string;
}

/** A client child process with piped standard streams. */
export class ClientProcess {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stdout = "";
  #stderr = "";
  readonly #drained: Promise<void>;
  readonly status: Promise<Deno.CommandStatus>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.status = child.status;
    this.#drained = Promise.all([
      this.#collect(child.stdout, (text) => this.#stdout += text),
      this.#collect(child.stderr, (text) => this.#stderr += text),
    ]).then(() => {});
  }

  /** Starts `client.ts args...` (or the given executable). */
  static async start(args: string[], options: ClientProcessOptions = {}): Promise<ClientProcess> {
    const [program, programArgs] = options.executable
      ? [options.executable, args]
      : ["deno", ["run", ...await clientTaskFlags(), "client.ts", ...args]];
    const child = new Deno.Command(program, {
      args: programArgs,
      cwd: ROOT,
      clearEnv: true,
      env: { ...baseEnv(), ...options.env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new ClientProcess(child);
  }

  /** Everything written to stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** Everything written to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Writes `text` to the client's stdin. */
  async write(text: string): Promise<void> {
    await this.#stdin.write(encoder.encode(text));
  }

  /** Closes the client's stdin (end of input). */
  async closeStdin(): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      // The client has exited already.
    }
  }

  /** Resolves once `test` holds for (stdout, stderr); throws with both after the timeout. */
  async until(
    test: (stdout: string, stderr: string) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.#stdout, this.#stderr)) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}\n--- stdout\n${this.#stdout}\n--- stderr\n${this.#stderr}`,
        );
      }
      await sleep(20);
    }
  }

  /** Waits for the exit, with all output read. */
  async exit(timeoutMs = 15_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.kill("SIGKILL");
        resolve();
      }, timeoutMs);
    });
    const status = await Promise.race([this.status, killed.then(() => this.status)]);
    clearTimeout(timer);
    await this.closeStdin();
    await this.#drained;
    return status;
  }

  /** Sends a signal to the client, if it still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.exit();
  }

  async #collect(stream: ReadableStream<Uint8Array>, add: (text: string) => void): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) add(text);
  }
}
