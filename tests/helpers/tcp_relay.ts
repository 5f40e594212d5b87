/**
 * A loopback TCP relay standing in for a load balancer in front of several
 * replicas: it listens on one port and pipes each accepted connection to the
 * current target port, which a test can switch (the way a Kubernetes Service
 * stops routing to a pod that went away). When either side closes, so does
 * the other.
 *
 * It does not balance, retry or buffer: one target at a time, bytes as they come.
 *
 * @module
 */

/** A relay from one loopback port to a switchable target port. */
export class TcpRelay implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #pipes = new Set<Promise<void>>();
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #accepting: Promise<void>;
  #target: number;

  private constructor(listener: Deno.TcpListener, target: number) {
    this.#listener = listener;
    this.#target = target;
    this.#accepting = this.#accept();
  }

  /** Listens on a free loopback port and relays to `target`. */
  static start(target: number): TcpRelay {
    return new TcpRelay(Deno.listen({ hostname: "127.0.0.1", port: 0 }), target);
  }

  /** The port clients connect to. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Sends connections accepted from now on to `target`. */
  switchTo(target: number): void {
    this.#target = target;
  }

  /** Stops listening, closes every relayed connection and waits for the pipes. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) closeQuietly(conn);
    await Promise.all(this.#pipes);
  }

  async #accept(): Promise<void> {
    try {
      for await (const inbound of this.#listener) {
        const pipe = this.#relay(inbound);
        this.#pipes.add(pipe);
        pipe.finally(() => this.#pipes.delete(pipe));
      }
    } catch {
      // The listener was closed.
    }
  }

  async #relay(inbound: Deno.TcpConn): Promise<void> {
    this.#conns.add(inbound);
    let outbound: Deno.TcpConn;
    try {
      outbound = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      this.#conns.delete(inbound);
      closeQuietly(inbound);
      return;
    }
    this.#conns.add(outbound);
    const copy = async (from: Deno.TcpConn, to: Deno.TcpConn) => {
      try {
        await from.readable.pipeTo(to.writable, { preventClose: true });
      } catch {
        // Either side went away; both are closed below.
      }
      closeQuietly(from);
      closeQuietly(to);
    };
    await Promise.all([copy(inbound, outbound), copy(outbound, inbound)]);
    this.#conns.delete(inbound);
    this.#conns.delete(outbound);
  }
}

function closeQuietly(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
