/**
 * How the client opens its connection to the server: plain TCP, or TLS
 * trusting the system's CAs or the ones given (`--ca FILE`). The TLS
 * handshake is done before the connection is handed over, so that a
 * certificate the client does not trust is reported as what it is rather
 * than as a connection closed early.
 *
 * It neither reads files nor retries: `client.ts` reads the CA file,
 * `connection.ts` reconnects.
 *
 * @module
 */

/** Opens one connection to `host`:`port`. */
export type Connector = (host: string, port: number) => Promise<Deno.Conn>;

/** How to reach the server. */
export interface TransportOptions {
  /** Connect over TLS. */
  tls?: boolean;
  /** PEM certificates of the CAs to trust for TLS, instead of the system's. */
  caCerts?: string[];
}

/**
 * The connector for `options`.
 *
 * @example
 * ```ts
 * const connect = connector({ tls: true, caCerts: [await Deno.readTextFile("ca.pem")] });
 * const conn = await connect("chat.example", 6697);
 * ```
 */
export function connector(options: TransportOptions): Connector {
  if (!options.tls) return (hostname, port) => Deno.connect({ hostname, port });
  const { caCerts } = options;
  return async (hostname, port) => {
    const conn = await Deno.connectTls({ hostname, port, caCerts });
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw new Error(`TLS: ${(error as Error).message}`);
    }
    return conn;
  };
}
