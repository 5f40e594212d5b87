/**
 * The TLS chat listener: accepts TLS connections with the certificate read
 * from PEM files and hands each to a callback (the chat server's `admit`, or
 * the web port's relay in `tls_terminator.ts`), and
 * takes a new certificate without dropping anyone.
 *
 * Deno cannot change a listening socket's certificate, and `SO_REUSEPORT`
 * (two listeners on one port at once) is unstable for TLS in Deno 2.9. So a
 * reload reads the files, tries the new certificate and key on a throwaway
 * listener (so that a bad pair is caught while the old listener still
 * serves), then closes the old listener and listens again on the same port
 * as soon as the old socket is gone (a few milliseconds). Connections
 * already accepted are independent of their listener and stay open, with
 * the certificate they were made with; new ones get the new certificate.
 * The cost is that a connection arriving in those milliseconds, or waiting
 * unaccepted in the old listener's backlog, is refused and must be retried;
 * the project's client reconnects by itself. A certificate that cannot be read or used leaves
 * the old listener in place.
 *
 * It knows nothing of sessions or limits; the TLS handshake itself happens
 * on the connection's first read or write, in the session.
 *
 * @module
 */

import type { Logger } from "../ops/log.ts";
import { sleep } from "../util/deadline.ts";

/** How often, and how far apart, a reload tries to listen again while the old socket closes. */
const REBIND_ATTEMPTS = 100;
const REBIND_PAUSE_MS = 5;

/** Where to listen and where the certificate is. */
export interface TlsListenerOptions {
  hostname: string;
  /** 0 picks a free port, kept across reloads. */
  port: number;
  certFile: string;
  keyFile: string;
  logger: Logger;
  /** Called with each accepted connection. */
  onConnection: (conn: Deno.TlsConn) => void;
}

/** A TLS listener whose certificate can be replaced; see the module documentation. */
export class TlsListener {
  readonly #options: TlsListenerOptions;
  #listener: Deno.TlsListener;
  #port: number;
  #closed = false;
  /** The current listener's accept loop. */
  #loop: Promise<void>;

  private constructor(options: TlsListenerOptions, listener: Deno.TlsListener) {
    this.#options = options;
    this.#listener = listener;
    this.#port = listener.addr.port;
    this.#loop = this.#accept(listener);
  }

  /**
   * Reads the certificate and listens.
   *
   * @throws {Error} when the files cannot be read or used, or the port is taken.
   */
  static async open(options: TlsListenerOptions): Promise<TlsListener> {
    return new TlsListener(options, await listen(options, options.port));
  }

  /** The port clients connect to. */
  get port(): number {
    return this.#port;
  }

  /**
   * Reads the certificate files again and serves new connections with them.
   *
   * @returns false (and logs why) when they could not be used; the old certificate stays.
   */
  async reload(): Promise<boolean> {
    if (this.#closed) return false;
    const { logger, certFile, hostname } = this.#options;
    let pair: CertifiedKey;
    try {
      pair = await readPair(this.#options);
      Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...pair }).close();
    } catch (error) {
      logger.error("TLS certificate not reloaded; keeping the old one", {
        file: certFile,
        error: (error as Error).message,
      });
      return false;
    }
    if (this.#closed) return false;
    this.#listener.close();
    // The port is free only once the old listener's pending accept has ended.
    await this.#loop;
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        this.#listener = Deno.listenTls({ hostname, port: this.#port, ...pair });
        break;
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse) || attempt >= REBIND_ATTEMPTS) {
          // Someone else took the port: nothing is served over TLS until a restart.
          logger.error("TLS listener lost", { port: this.#port, error: (error as Error).message });
          return false;
        }
        await sleep(REBIND_PAUSE_MS);
      }
    }
    if (this.#closed) return false;
    this.#loop = this.#accept(this.#listener);
    logger.info("TLS certificate reloaded", { file: certFile, port: this.#port });
    return true;
  }

  /** Stops accepting; resolves once every accept loop has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
    await this.#loop;
  }

  async #accept(listener: Deno.TlsListener): Promise<void> {
    try {
      for await (const conn of listener) this.#options.onConnection(conn);
    } catch (error) {
      if (listener === this.#listener && !this.#closed) {
        this.#options.logger.error("TLS accept failed", { error: (error as Error).message });
      }
    }
  }
}

interface CertifiedKey {
  cert: string;
  key: string;
}

async function readPair(options: TlsListenerOptions): Promise<CertifiedKey> {
  const [cert, key] = await Promise.all([
    Deno.readTextFile(options.certFile),
    Deno.readTextFile(options.keyFile),
  ]);
  return { cert, key };
}

async function listen(options: TlsListenerOptions, port: number): Promise<Deno.TlsListener> {
  return Deno.listenTls({ hostname: options.hostname, port, ...await readPair(options) });
}
