/**
 * HTTPS for the web port: TLS connections are accepted with a reloadable
 * certificate (`tls_listener.ts`) and their plaintext is relayed to the web
 * listener's own HTTP server on a loopback port, remembering which browser
 * is behind each relayed connection.
 *
 * Why a relay: `Deno.serve` takes a certificate only when it starts, and its
 * `shutdown()` closes the WebSockets it upgraded, so restarting it to take a
 * new certificate would drop every open page. Here a SIGHUP replaces only
 * the TLS listener in front (with its few-millisecond re-listen window, see
 * `tls_listener.ts`); connections already relayed, and their WebSockets,
 * stay open with the certificate they were made with.
 *
 * It does not parse HTTP and knows nothing of the chat; it only moves bytes
 * and answers who the peer of a relayed connection is.
 *
 * @module
 */

import type { Logger } from "../ops/log.ts";
import { EXPIRED, within } from "../util/deadline.ts";
import { TlsListener } from "./tls_listener.ts";

/** How long a TLS client may take to finish its handshake before it is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Bytes read from one side before they are written to the other. */
const CHUNK_BYTES = 16 * 1024;

/** Where to listen, with which certificate, and where to relay to. */
export interface TlsTerminatorOptions {
  hostname: string;
  /** 0 picks a free port, kept across reloads. */
  port: number;
  certFile: string;
  keyFile: string;
  /**
   * The loopback port of the plain HTTP server the plaintext goes to, once
   * it listens (it binds after this port, so that it cannot take it).
   */
  targetPort: Promise<number>;
  logger: Logger;
}

/** A TLS front for a loopback HTTP server; see the module documentation. */
export class TlsTerminator {
  readonly #options: TlsTerminatorOptions;
  readonly #listener: TlsListener;
  /** Local port of each relayed loopback connection -> the browser's address. */
  readonly #peers = new Map<number, Deno.NetAddr>();
  readonly #relays = new Set<Promise<void>>();
  readonly #open = new Set<Deno.Conn>();
  #closed = false;

  private constructor(options: TlsTerminatorOptions, listener: TlsListener) {
    this.#options = options;
    this.#listener = listener;
  }

  /**
   * Reads the certificate and listens.
   *
   * @throws {Error} when the files cannot be read or used, or the port is taken.
   */
  static async open(options: TlsTerminatorOptions): Promise<TlsTerminator> {
    let terminator: TlsTerminator | null = null;
    const listener = await TlsListener.open({
      ...options,
      onConnection: (conn) => terminator!.#relay(conn),
    });
    terminator = new TlsTerminator(options, listener);
    return terminator;
  }

  /** The port browsers connect to. */
  get port(): number {
    return this.#listener.port;
  }

  /**
   * The browser behind a connection the HTTP server got from `remote`, or
   * undefined when `remote` is not one of this relay's connections (a local
   * program that went around TLS).
   */
  peerOf(remote: Deno.NetAddr): Deno.NetAddr | undefined {
    return this.#peers.get(remote.port);
  }

  /** Re-reads the certificate; see `TlsListener.reload`. */
  reload(): Promise<boolean> {
    return this.#listener.reload();
  }

  /** Stops accepting, closes every relayed connection, and waits for the relays to end. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener.close();
    for (const conn of this.#open) closeQuietly(conn);
    await Promise.all(this.#relays);
  }

  #relay(browser: Deno.TlsConn): void {
    if (this.#closed) return closeQuietly(browser);
    const relay = this.#run(browser).finally(() => this.#relays.delete(relay));
    this.#relays.add(relay);
  }

  async #run(browser: Deno.TlsConn): Promise<void> {
    this.#open.add(browser);
    let inner: Deno.TcpConn | null = null;
    try {
      if (await within(browser.handshake(), HANDSHAKE_TIMEOUT_MS) === EXPIRED) return;
      if (this.#closed) return;
      const port = await this.#options.targetPort;
      if (this.#closed) return;
      inner = await Deno.connect({ hostname: "127.0.0.1", port });
      this.#open.add(inner);
      this.#peers.set(inner.localAddr.port, browser.remoteAddr);
      // Either side ending ends the pair: a WebSocket or HTTP connection has no use for half of one.
      const copies = [copy(browser, inner), copy(inner, browser)];
      await Promise.race(copies);
      closeQuietly(inner);
      closeQuietly(browser);
      await Promise.all(copies);
    } catch (error) {
      this.#options.logger.debug("TLS relay ended", {
        remote: browser.remoteAddr.hostname,
        reason: (error as Error).message,
      });
    } finally {
      if (inner) {
        this.#peers.delete(inner.localAddr.port);
        this.#open.delete(inner);
        closeQuietly(inner);
      }
      this.#open.delete(browser);
      closeQuietly(browser);
    }
  }
}

/** Copies until `from` ends or either side fails; a closed side is an ordinary end. */
async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(CHUNK_BYTES);
  try {
    for (;;) {
      const count = await from.read(buffer);
      if (count === null) return;
      for (let written = 0; written < count;) {
        written += await to.write(buffer.subarray(written, count));
      }
    }
  } catch {
    // Reset by the peer, or closed by the other copy: the pair is over either way.
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}
