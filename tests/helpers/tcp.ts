/**
 * A connected pair of real loopback TCP sockets, for tests of code that
 * reads from or writes to a connection.
 *
 * @module
 */

/** Both ends of one loopback TCP connection. */
export interface TcpPair {
  /** The end that connected. */
  client: Deno.TcpConn;
  /** The end that was accepted. */
  server: Deno.TcpConn;
}

/** Opens a loopback TCP connection and returns both of its ends. */
export async function tcpPair(): Promise<TcpPair> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  return { client, server: await accepted };
}
