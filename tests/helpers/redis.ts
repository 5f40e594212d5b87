/**
 * A private, real `redis-server` for one test file.
 *
 * What it does:
 * - `RedisServer.start()` makes a temporary directory, asks the OS for a free
 *   loopback port and spawns `redis-server` bound to 127.0.0.1 on that port,
 *   with that directory as its working directory (AOF on by default, fsync on
 *   every write, no RDB snapshots). It resolves once the server answers PING.
 * - `stop()` sends SIGTERM to the child this helper spawned (by its process
 *   handle, never by name) and awaits its exit; `restart()` starts it again on
 *   the same port and directory, so AOF data survives; `await using` (or
 *   `[Symbol.asyncDispose]()`) stops it and deletes the directory.
 * - `command()` sends one command over a tiny RESP2 client and returns the
 *   parsed reply. It exists so tests can inspect and prepare Redis state
 *   without depending on the code under test.
 *
 * What it does not:
 * - It never uses or touches port 6379 or any Redis it did not start.
 * - It is not a Redis client for production: one connection per command, no
 *   pipelining, no Pub/Sub, no RESP3, no authentication.
 * - It does not keep redis-server's log on disk; the last few KiB of output are
 *   kept in memory and quoted in the error if the server dies while starting.
 *
 * Everything it opens is closed and every child is awaited, so Deno's test
 * sanitizers stay quiet. Needs `--allow-run=redis-server`,
 * `--allow-net=127.0.0.1` and write access to the temporary directory
 * (`--allow-write=/tmp`, or wherever TMPDIR points).
 *
 * @module
 */

import { concat } from "../../lib/util/bytes.ts";
import { sleep } from "../../lib/util/deadline.ts";

/** The loopback address every server started here binds to. */
const HOST = "127.0.0.1" as const;

/** The well-known Redis port, which this helper never uses. */
const SYSTEM_REDIS_PORT = 6379;

/** How long `start()`/`restart()` wait for the server to answer PING. */
const START_DEADLINE_MS = 10_000;

/** How long `restart()` keeps retrying when the old port is still busy. */
const REBIND_DEADLINE_MS = 5_000;

/** How long one `command()` may take before its connection is closed. */
const COMMAND_TIMEOUT_MS = 10_000;

/** How much of redis-server's output is kept for error messages. */
const OUTPUT_TAIL_BYTES = 8 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A reply decoded from RESP2: simple and bulk strings become `string`,
 * integers `number`, nil bulk strings and nil arrays `null`, arrays arrays.
 * Error replies are thrown as {@link RespError}, never returned.
 */
export type RespValue = string | number | null | RespValue[];

/** An error reply (`-ERR ...`) sent by Redis. */
export class RespError extends Error {
  /** @param message the error text Redis sent, without the leading `-`. */
  constructor(message: string) {
    super(message);
    this.name = "RespError";
  }
}

/** Anything bytes can be read from the way `Deno.Conn` reads them. */
export interface ByteSource {
  /** Reads into `p`; resolves to the number of bytes read or null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * Asks the OS for a free loopback TCP port: listens on 127.0.0.1 port 0,
 * reads the port it was given and closes the listener. Never returns 6379,
 * nor a port it returned before.
 *
 * @returns a port that was free a moment ago.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const listener = Deno.listen({ hostname: HOST, port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    // The OS may hand the same free port out twice in a row; a test asking
    // for two ports before binding either must get two.
    if (port !== SYSTEM_REDIS_PORT && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
    await sleep(1);
  }
}

/** Ports this process has handed out: never handed out again. */
const handedOut = new Set<number>();

/**
 * Encodes one command as a RESP array of bulk strings.
 *
 * @param args the command name and its arguments.
 * @returns the bytes to send.
 */
export function encodeCommand(args: readonly string[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = encoder.encode(arg);
    parts.push(encoder.encode(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return concat(parts);
}

const CRLF = encoder.encode("\r\n");
const CLOSED_EARLY = "connection closed in the middle of a RESP reply";

/**
 * Reads RESP2 replies from a byte source, however the bytes are split into
 * chunks. Bytes after a reply stay buffered for the next one.
 */
export class RespReader {
  readonly #source: ByteSource;
  #buffer: Uint8Array = new Uint8Array(0);
  readonly #chunk: Uint8Array = new Uint8Array(16 * 1024);

  /** @param source where the reply bytes come from (e.g. a `Deno.Conn`). */
  constructor(source: ByteSource) {
    this.#source = source;
  }

  /**
   * Reads one complete reply.
   *
   * @returns the decoded reply.
   * @throws {RespError} if the reply (or an element of an array reply) is an
   *   error reply.
   * @throws {Error} if the stream ends early or is not valid RESP2.
   */
  async readReply(): Promise<RespValue> {
    const line = await this.#readLine();
    const type = line[0];
    const rest = line.slice(1);
    switch (type) {
      case "+":
        return rest;
      case "-":
        throw new RespError(rest);
      case ":":
        return parseInteger(rest, line);
      case "$": {
        const length = parseInteger(rest, line);
        if (length === -1) return null;
        if (length < 0) throw new Error(`bad RESP bulk length: ${line}`);
        const bytes = await this.#readExact(length + 2);
        if (bytes[length] !== 13 || bytes[length + 1] !== 10) {
          throw new Error("bad RESP bulk string: missing CRLF terminator");
        }
        return decoder.decode(bytes.subarray(0, length));
      }
      case "*": {
        const count = parseInteger(rest, line);
        if (count === -1) return null;
        if (count < 0) throw new Error(`bad RESP array length: ${line}`);
        const items: RespValue[] = [];
        // Read every element even after an error element, so the stream stays
        // aligned; then throw the first error.
        let firstError: RespError | undefined;
        for (let i = 0; i < count; i++) {
          try {
            items.push(await this.readReply());
          } catch (error) {
            if (!(error instanceof RespError)) throw error;
            firstError ??= error;
            items.push(null);
          }
        }
        if (firstError) throw firstError;
        return items;
      }
      default:
        throw new Error(`unexpected RESP reply line: ${JSON.stringify(line)}`);
    }
  }

  /** Reads up to and excluding the next CRLF, decoded as UTF-8. */
  async #readLine(): Promise<string> {
    let searchFrom = 0;
    for (;;) {
      const end = indexOfCrlf(this.#buffer, searchFrom);
      if (end !== -1) {
        const line = decoder.decode(this.#buffer.subarray(0, end));
        this.#buffer = this.#buffer.subarray(end + 2);
        return line;
      }
      // A CR at the very end may be followed by the LF in the next chunk.
      searchFrom = Math.max(0, this.#buffer.length - 1);
      await this.#fill();
    }
  }

  /** Reads exactly `n` bytes. */
  async #readExact(n: number): Promise<Uint8Array> {
    if (this.#buffer.length >= n) {
      const bytes = this.#buffer.slice(0, n);
      this.#buffer = this.#buffer.subarray(n);
      return bytes;
    }
    // Large replies: read straight into one buffer of the final size.
    const bytes = new Uint8Array(n);
    bytes.set(this.#buffer);
    let filled = this.#buffer.length;
    this.#buffer = new Uint8Array(0);
    while (filled < n) {
      const read = await this.#source.read(bytes.subarray(filled));
      if (read === null) throw new Error(CLOSED_EARLY);
      filled += read;
    }
    return bytes;
  }

  /** Appends the next chunk from the source to the buffer. */
  async #fill(): Promise<void> {
    const n = await this.#source.read(this.#chunk);
    if (n === null) throw new Error(CLOSED_EARLY);
    this.#buffer = concat([this.#buffer, this.#chunk.subarray(0, n)]);
  }
}

/** Options for {@link RedisServer.start}. */
export interface RedisServerOptions {
  /** Turn on the append-only file (fsync on every write). Default: true. */
  appendOnly?: boolean;
  /** Written to `redis.conf` in the server's directory and loaded first (Sentinel needs a file). */
  config?: string;
  /** More command-line options, after the defaults (e.g. `--replicaof`, `--sentinel`). */
  args?: string[];
}

/**
 * One `redis-server` child process on a private port and directory.
 *
 * @example
 * ```ts
 * await using redis = await RedisServer.start();
 * await redis.command("SET", "k", "v");
 * ```
 */
export class RedisServer {
  /** The address the server listens on. */
  readonly host: typeof HOST = HOST;
  /** The TCP port the server listens on (never 6379). */
  readonly port: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** The server's working directory (AOF files live here). */
  readonly dir: string;
  readonly #appendOnly: boolean;
  readonly #options: RedisServerOptions;
  #process: RunningServer | undefined;
  #stopping: Promise<void> | undefined;
  #disposed = false;

  private constructor(port: number, dir: string, options: RedisServerOptions) {
    this.port = port;
    this.url = `redis://${HOST}:${port}`;
    this.dir = dir;
    this.#appendOnly = options.appendOnly ?? true;
    this.#options = options;
  }

  /**
   * Starts a new server in a new temporary directory on a free port and
   * waits until it answers PING.
   *
   * @param options `appendOnly` (default true) turns on AOF.
   * @returns the running server.
   * @throws {Error} naming the port, exit status and output if redis-server
   *   exits or does not answer within 10 s.
   */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = await Deno.makeTempDir({ prefix: "redis-test-" });
    if (options.config !== undefined) {
      await Deno.writeTextFile(`${dir}/redis.conf`, options.config);
    }
    try {
      // Another process may take the port between freePort() and the bind;
      // if redis-server cannot bind, try a different port.
      for (let attempt = 1;; attempt++) {
        const server = new RedisServer(await freePort(), dir, options);
        try {
          await server.#launch();
          return server;
        } catch (error) {
          if (!(error instanceof BindError) || attempt >= 5) throw error;
        }
      }
    } catch (error) {
      await Deno.remove(dir, { recursive: true });
      throw error;
    }
  }

  /** Whether the child process is running (started and not yet stopped). */
  get running(): boolean {
    return this.#process !== undefined && !this.#process.exited;
  }

  /**
   * Sends SIGTERM (or `signal`, e.g. SIGKILL for a crash) to the child this
   * object started and awaits its exit. Safe to call more than once, and
   * concurrently. Keeps the directory.
   */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    if (this.#stopping) return await this.#stopping;
    const proc = this.#process;
    if (!proc) return;
    this.#stopping = (async () => {
      try {
        if (!proc.exited) {
          try {
            proc.child.kill(signal);
          } catch {
            // It exited between the check and the kill: nothing to signal.
          }
        }
        await proc.finished;
      } finally {
        this.#process = undefined;
        this.#stopping = undefined;
      }
    })();
    return await this.#stopping;
  }

  /**
   * Stops the server and starts it again on the same port and directory (so
   * AOF data persists), retrying briefly while the port is still busy, and
   * waits until it answers PING.
   */
  async restart(): Promise<void> {
    if (this.#disposed) throw new Error("RedisServer was disposed");
    await this.stop();
    const deadline = Date.now() + REBIND_DEADLINE_MS;
    for (;;) {
      try {
        await this.#launch();
        return;
      } catch (error) {
        if (!(error instanceof BindError) || Date.now() >= deadline) {
          throw error;
        }
        await sleep(100);
      }
    }
  }

  /**
   * Sends one command on a new connection and returns the decoded reply.
   *
   * @param args the command name and its arguments, e.g. `("LRANGE", "k", "0", "-1")`.
   * @returns the reply ({@link RespValue}).
   * @throws {RespError} if Redis answers with an error reply.
   */
  async command(...args: string[]): Promise<RespValue> {
    if (args.length === 0) throw new Error("command() needs a command name");
    return await exchange(
      this.port,
      encodeCommand(args),
      COMMAND_TIMEOUT_MS,
      `redis ${args[0]}`,
    );
  }

  /** Stops the server and deletes its directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  /** Spawns redis-server on this.port/this.dir and waits for PING. */
  async #launch(): Promise<void> {
    const args = [
      ...this.#options.config !== undefined ? [`${this.dir}/redis.conf`] : [],
      "--port",
      String(this.port),
      "--bind",
      HOST,
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      this.#appendOnly ? "yes" : "no",
      "--appendfsync",
      "always",
      "--protected-mode",
      "no",
      "--daemonize",
      "no",
      "--logfile",
      "",
      ...this.#options.args ?? [],
    ];
    const child = new Deno.Command("redis-server", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const proc = new RunningServer(child);
    this.#process = proc;
    try {
      await this.#waitForPing(proc);
    } catch (error) {
      // Do not leave a half-started child behind.
      await this.stop();
      throw error;
    }
  }

  /** Polls with PING until +PONG, the child exits, or the deadline passes. */
  async #waitForPing(proc: RunningServer): Promise<void> {
    const deadline = Date.now() + START_DEADLINE_MS;
    let lastProblem = "no answer yet";
    while (Date.now() < deadline) {
      if (proc.exited) {
        await proc.finished;
        const output = proc.output();
        const message = `redis-server on port ${this.port} exited while starting ` +
          `(${describeStatus(proc.status)})${output ? `:\n${output}` : ""}`;
        throw /address already in use/i.test(output) ? new BindError(message) : new Error(message);
      }
      try {
        if (await ping(this.port)) return;
        lastProblem = "PING did not get +PONG";
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      await sleep(25);
    }
    const output = proc.output();
    throw new Error(
      `redis-server on port ${this.port} did not answer PING within ` +
        `${START_DEADLINE_MS} ms (${lastProblem}; ${describeStatus(proc.status)})` +
        (output ? `:\n${output}` : ""),
    );
  }
}

/** redis-server could not bind its port (another process holds it). */
class BindError extends Error {}

/** A spawned redis-server: its handle, exit status and drained output. */
class RunningServer {
  readonly child: Deno.ChildProcess;
  /** Resolves when the process has exited and its output is drained. */
  readonly finished: Promise<void>;
  status: Deno.CommandStatus | undefined;
  #tail = "";

  constructor(child: Deno.ChildProcess) {
    this.child = child;
    const status = child.status.then((s) => {
      this.status = s;
    });
    this.finished = Promise.all([
      status,
      this.#drain(child.stdout),
      this.#drain(child.stderr),
    ]).then(() => {});
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.status !== undefined;
  }

  /** The last few KiB of stdout and stderr, trimmed. */
  output(): string {
    return this.#tail.trim();
  }

  /** Reads a pipe to its end, keeping only a bounded tail of the text. */
  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const text = new TextDecoder();
    for await (const chunk of stream) {
      this.#tail = (this.#tail + text.decode(chunk, { stream: true }))
        .slice(-OUTPUT_TAIL_BYTES);
    }
  }
}

/** One PING on a fresh connection; true if the answer is +PONG. */
async function ping(port: number): Promise<boolean> {
  // An error reply such as -LOADING throws, and the caller retries.
  const reply = await exchange(port, encoder.encode("PING\r\n"), 1_000, "PING");
  return reply === "PONG";
}

/**
 * Connects, sends `request`, reads one reply and closes the connection. If no
 * reply arrives within `timeoutMs` the connection is closed and an Error
 * naming `what` and the port is thrown.
 */
async function exchange(
  port: number,
  request: Uint8Array,
  timeoutMs: number,
  what: string,
): Promise<RespValue> {
  const conn = await Deno.connect({ hostname: HOST, port });
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      conn.close();
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    close();
  }, timeoutMs);
  try {
    await writeAll(conn, request);
    return await new RespReader(conn).readReply();
  } catch (error) {
    if (timedOut) {
      throw new Error(
        `${what} on port ${port} timed out after ${timeoutMs} ms`,
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
    close();
  }
}

function describeStatus(status: Deno.CommandStatus | undefined): string {
  if (!status) return "still running";
  return status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

function parseInteger(text: string, line: string): number {
  if (!/^-?\d+$/.test(text)) throw new Error(`bad RESP integer: ${line}`);
  return Number(text);
}

function indexOfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  }
  return -1;
}
