import { sleep } from "../../lib/util/deadline.ts";
/**
 * A test client for the text protocol over a real TCP socket: send lines,
 * read lines with deadlines, and wait for the server to close.
 *
 * It frames incoming bytes on `\n` by itself (it does not reuse the server's
 * line reader) so that the tests check the server against an independent
 * reading of the protocol.
 *
 * @module
 */

const encoder = new TextEncoder();

/** No line arrived in time. */
export class ReadTimeoutError extends Error {
  constructor(ms: number, seen: string[]) {
    super(`no expected line within ${ms} ms; lines seen: ${JSON.stringify(seen.slice(-20))}`);
    this.name = "ReadTimeoutError";
  }
}

/**
 * Runs `attempt` until it returns non-null (it returns null when the name is
 * still taken), for up to 5 s: a server releases a name only after it has
 * seen the previous connection close, which can be a moment after the test
 * closed it.
 */
async function whileNameTaken<T>(attempt: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + 5_000;
  while (true) {
    const result = await attempt();
    if (result !== null) return result;
    if (Date.now() > deadline) throw new Error("the name stayed taken for 5 s");
    await sleep(50);
  }
}

/** One connection speaking the text protocol. */
export class TextClient {
  readonly #conn: Deno.TcpConn;
  readonly #lines: string[] = [];
  readonly #seen: string[] = [];
  readonly #pump: Promise<void>;
  #eof = false;
  #writes: Promise<void> = Promise.resolve();
  #wake: (() => void) | null = null;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#pump = this.#read();
  }

  /** Connects to the server on 127.0.0.1:`port`. */
  static async connect(port: number): Promise<TextClient> {
    return new TextClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /**
   * Connects, sends `name` and reads the history. While the server still
   * holds the name for a connection the test closed a moment ago, it retries.
   *
   * @returns the history lines, without `HISTORY_END`.
   */
  static async join(
    port: number,
    name: string,
  ): Promise<{ client: TextClient; history: string[] }> {
    return await whileNameTaken(async () => {
      const client = await TextClient.connect(port);
      client.send(name);
      const history = await client.readUntil(
        (line) => line === "HISTORY_END" || line.startsWith("! the name "),
      );
      if (history.at(-1) !== "HISTORY_END") {
        await client.close();
        return null;
      }
      history.pop();
      return { client, history };
    });
  }

  /** Every line received so far, consumed or not. */
  get seen(): readonly string[] {
    return this.#seen;
  }

  /** Whether the server closed the connection. */
  get closedByServer(): boolean {
    return this.#eof;
  }

  /** Sends `line` followed by `\n`. */
  send(line: string): Promise<void> {
    return this.write(`${line}\n`);
  }

  /** Sends bytes exactly as given, after everything sent before. */
  write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    this.#writes = this.#writes.then(async () => {
      let written = 0;
      while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
    });
    return this.#writes;
  }

  /** Half-closes: tells the server no more input will come. */
  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  /** The next line, or `null` once the server has closed and all lines are read. */
  async readLine(timeoutMs = 10_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0 && !this.#eof) {
      const left = deadline - Date.now();
      if (left <= 0) throw new ReadTimeoutError(timeoutMs, this.#seen);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = null;
    }
    return this.#lines.shift() ?? null;
  }

  /** Reads lines up to and including the first that equals `expected` or passes the test. */
  async readUntil(
    expected: string | ((line: string) => boolean),
    timeoutMs = 10_000,
  ): Promise<string[]> {
    const test = typeof expected === "string" ? (line: string) => line === expected : expected;
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    while (true) {
      const line = await this.readLine(Math.max(1, deadline - Date.now()));
      if (line === null) {
        throw new Error(`connection closed before the expected line; got ${JSON.stringify(lines)}`);
      }
      lines.push(line);
      if (test(line)) return lines;
    }
  }

  /** The next line that is not a notice (`* ...`). */
  async nextMessage(timeoutMs = 10_000): Promise<string> {
    const lines = await this.readUntil((line) => !line.startsWith("* "), timeoutMs);
    return lines.at(-1)!;
  }

  /**
   * Returns once the server has handled everything this client sent: the
   * server handles a connection's lines in order, so the answer to `/help`
   * comes only after the messages before it were stored. Lines read while
   * waiting are dropped.
   */
  async sync(timeoutMs = 10_000): Promise<void> {
    await this.send("/help");
    await this.readUntil((line) => line.startsWith("* anything else"), timeoutMs);
  }

  /** Reads `count` lines. */
  async readLines(count: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    while (lines.length < count) {
      const line = await this.readLine(Math.max(1, deadline - Date.now()));
      if (line === null) {
        throw new Error(`connection closed after ${lines.length} of ${count} lines: ${lines}`);
      }
      lines.push(line);
    }
    return lines;
  }

  /** Reads until the server closes; returns the remaining lines. */
  async readToEnd(timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    while (true) {
      const line = await this.readLine(Math.max(1, deadline - Date.now()));
      if (line === null) return lines;
      lines.push(line);
    }
  }

  /** Closes the connection and waits for the reader to stop. */
  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    await this.#pump;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let partial = "";
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        partial += decoder.decode(buffer.subarray(0, n), { stream: true });
        const parts = partial.split("\n");
        partial = parts.pop()!;
        for (const part of parts) {
          this.#lines.push(part);
          this.#seen.push(part);
        }
        this.#wake?.();
      }
    } catch {
      // Closed locally or reset: either way, no more lines.
    }
    if (partial) {
      this.#lines.push(partial);
      this.#seen.push(partial);
    }
    this.#eof = true;
    this.#wake?.();
  }
}

/** A JSON-protocol event as received. */
// deno-lint-ignore no-explicit-any
export type JsonEvent = Record<string, any>;

/** One connection speaking the JSON protocol, built on the same line framing. */
export class JsonClient {
  /** The underlying line connection, for raw writes and reads. */
  readonly lines: TextClient;

  private constructor(lines: TextClient) {
    this.lines = lines;
  }

  /**
   * Connects and sends a hello (`since` for a resume), retrying while the
   * name is still held for a connection the test just closed.
   *
   * @returns the history events, without `history_end`, and `history_end`'s id.
   */
  static async join(
    port: number,
    user: string,
    since?: number,
  ): Promise<{ client: JsonClient; history: JsonEvent[]; lastId: number }> {
    return await whileNameTaken(async () => {
      const client = new JsonClient(await TextClient.connect(port));
      client.request(
        since === undefined ? { type: "hello", user } : { type: "hello", user, since },
      );
      const history = await client.readUntil((event) =>
        event.type === "history_end" || event.code === "name_taken"
      );
      const end = history.pop()!;
      if (end.type !== "history_end") {
        await client.close();
        return null;
      }
      return { client, history, lastId: end.id };
    });
  }

  /**
   * Connects and sends a hello with `fields` (user, since, epoch, token...),
   * without retrying.
   *
   * @returns every event up to and including `history_end` or the fatal error.
   */
  static async hello(
    port: number,
    fields: JsonEvent,
  ): Promise<{ client: JsonClient; events: JsonEvent[] }> {
    const client = new JsonClient(await TextClient.connect(port));
    await client.request({ type: "hello", ...fields });
    const events = await client.readUntil((event) =>
      event.type === "history_end" || event.fatal === true
    );
    return { client, events };
  }

  /** Sends one request object as a line. */
  request(value: JsonEvent): Promise<void> {
    return this.lines.send(JSON.stringify(value));
  }

  /** The next event, or `null` once the server has closed. */
  async next(timeoutMs = 10_000): Promise<JsonEvent | null> {
    const line = await this.lines.readLine(timeoutMs);
    return line === null ? null : JSON.parse(line);
  }

  /** Reads events up to and including the first that passes `test`. */
  async readUntil(test: (event: JsonEvent) => boolean, timeoutMs = 10_000): Promise<JsonEvent[]> {
    const lines = await this.lines.readUntil((line) => test(JSON.parse(line)), timeoutMs);
    return lines.map((line) => JSON.parse(line));
  }

  /** Reads events until the server closes. */
  async readToEnd(timeoutMs = 10_000): Promise<JsonEvent[]> {
    return (await this.lines.readToEnd(timeoutMs)).map((line) => JSON.parse(line));
  }

  /** Closes the connection. */
  close(): Promise<void> {
    return this.lines.close();
  }
}
