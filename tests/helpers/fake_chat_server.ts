/**
 * A small, scriptable JSON-protocol chat server on a real loopback socket,
 * for testing the client's connection logic in situations the real server
 * produces only by accident: a drop between storing a message and sending
 * its receipt, `slow_down`, `name_taken` while resuming, a server that goes
 * silent, a history that overlaps what the client has seen.
 *
 * By default it behaves like the real server in JSON mode: a hello gets the
 * stored messages (after `since`, when given) and `history_end`; a message
 * is stored with the next id and delivered, with its `ref`, to every
 * connection; `who`, `ping` and `quit` are answered. Hooks change that per
 * test. It is not a reference implementation: no limits, no validation.
 *
 * @module
 */

import { readLines } from "../../lib/util/line_reader.ts";
import { sleep } from "../../lib/util/deadline.ts";

/** A stored message. */
export interface FakeMessage {
  id: number;
  user: string;
  text: string;
  ts: number;
  ref?: string;
}

/** A hello as received. */
export interface FakeHello {
  user: string;
  since?: number;
}

/** What to do with a request; `undefined` means the default. */
export type MessageVerdict =
  | "store"
  /** Store it, then close the connection before anyone gets the receipt. */
  | "store_and_drop"
  /** Close the connection without storing it. */
  | "drop"
  /** Neither store nor answer. */
  | "ignore"
  | { error: { code: string; text: string; fatal?: boolean } };

/** Hooks that change the default behaviour. */
export interface FakeHooks {
  /** Return an error to refuse the hello (it is sent as fatal, then the connection closes). */
  hello?: (hello: FakeHello) => { code: string; text: string } | undefined;
  message?: (text: string, ref: string | undefined, user: string) => MessageVerdict | undefined;
  /** Replay every stored message, ignoring `since` (to test de-duplication). */
  ignoreSince?: boolean;
  /** Answer nothing at all after the history (a server that hangs). */
  silent?: boolean;
}

const encoder = new TextEncoder();

/** One client connection to the fake server. */
export class FakeConnection {
  readonly conn: Deno.TcpConn;
  hello: FakeHello | null = null;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Sends one JSON object as a line; errors (a closed peer) are ignored. */
  async send(value: unknown): Promise<void> {
    const bytes = encoder.encode(`${JSON.stringify(value)}\n`);
    try {
      let written = 0;
      while (written < bytes.length) written += await this.conn.write(bytes.subarray(written));
    } catch {
      // The client went away.
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** The fake server. Stop it with `await using` or {@linkcode FakeChatServer.stop}. */
export class FakeChatServer {
  readonly messages: FakeMessage[] = [];
  /** Every request received after a hello, parsed, in order. */
  readonly requests: Record<string, unknown>[] = [];
  /** Every hello received, in order. */
  readonly hellos: FakeHello[] = [];
  hooks: FakeHooks = {};
  readonly #connections = new Set<FakeConnection>();
  readonly #tasks = new Set<Promise<void>>();
  #listener: Deno.TcpListener | null = null;
  #port = 0;

  /** Listens on a free loopback port. */
  static start(hooks: FakeHooks = {}): FakeChatServer {
    const server = new FakeChatServer();
    server.hooks = hooks;
    server.listen();
    return server;
  }

  get port(): number {
    return this.#port;
  }

  /** Live connections that completed a hello. */
  get connections(): FakeConnection[] {
    return [...this.#connections].filter((connection) => connection.hello !== null);
  }

  /** Starts listening again (same port once it was given one). */
  listen(): void {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.#port });
    this.#listener = listener;
    this.#port = listener.addr.port;
    this.#track(this.#accept(listener));
  }

  /** Stores a message as if someone sent it, and delivers it to every client. */
  async store(user: string, text: string, ref?: string): Promise<FakeMessage> {
    const message: FakeMessage = { id: this.messages.length + 1, user, text, ts: Date.now() };
    if (ref !== undefined) message.ref = ref;
    this.messages.push(message);
    await Promise.all(this.connections.map((c) => c.send({ type: "message", ...message })));
    return message;
  }

  /** Closes every client connection; the listener stays. */
  dropAll(): void {
    for (const connection of this.#connections) connection.close();
  }

  /** Stops listening and drops every connection; {@linkcode listen} starts again. */
  async pause(): Promise<void> {
    this.#listener?.close();
    this.#listener = null;
    this.dropAll();
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  async stop(): Promise<void> {
    await this.pause();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Resolves once `test` holds, checking every 10 ms. */
  async until(test: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of listener) {
        const connection = new FakeConnection(conn);
        this.#connections.add(connection);
        this.#track(this.#serve(connection));
      }
    } catch {
      // Closed by pause().
    }
  }

  async #serve(connection: FakeConnection): Promise<void> {
    try {
      for await (const line of readLines(connection.conn, { maxLineBytes: 1 << 20 })) {
        if (line.type !== "line") continue;
        const request = JSON.parse(line.text);
        if (connection.hello === null) {
          if (!await this.#hello(connection, request)) break;
          continue;
        }
        this.requests.push(request);
        if (this.hooks.silent) continue;
        if (!await this.#request(connection, request)) break;
      }
    } catch {
      // Closed by dropAll() or by the client.
    } finally {
      this.#connections.delete(connection);
      connection.close();
    }
  }

  async #hello(connection: FakeConnection, request: Record<string, unknown>): Promise<boolean> {
    const hello: FakeHello = { user: String(request.user) };
    if (typeof request.since === "number") hello.since = request.since;
    this.hellos.push(hello);
    const refusal = this.hooks.hello?.(hello);
    if (refusal) {
      await connection.send({ type: "error", ...refusal, fatal: true });
      return false;
    }
    const since = this.hooks.ignoreSince ? undefined : hello.since;
    for (const message of this.messages) {
      if (since === undefined || message.id > since) {
        await connection.send({ type: "message", ...message });
      }
    }
    await connection.send({ type: "history_end", id: this.messages.at(-1)?.id ?? 0 });
    connection.hello = hello;
    return true;
  }

  async #request(connection: FakeConnection, request: Record<string, unknown>): Promise<boolean> {
    const user = connection.hello!.user;
    switch (request.type) {
      case "message": {
        const text = String(request.text);
        const ref = request.ref as string | undefined;
        const verdict = this.hooks.message?.(text, ref, user) ?? "store";
        if (verdict === "ignore") return true;
        if (verdict === "drop") return false;
        if (typeof verdict === "object") {
          await connection.send({ type: "error", ...verdict.error, ref });
          return !verdict.error.fatal;
        }
        if (verdict === "store_and_drop") {
          this.messages.push({ id: this.messages.length + 1, user, text, ts: Date.now(), ref });
          return false;
        }
        await this.store(user, text, ref);
        return true;
      }
      case "who":
        await connection.send({ type: "who", users: this.connections.map((c) => c.hello!.user) });
        return true;
      case "ping":
        await connection.send({ type: "pong" });
        return true;
      case "quit":
        return false;
      default:
        await connection.send({ type: "error", code: "bad_request", text: "unknown" });
        return true;
    }
  }
}
