/**
 * A client connection as the chat server sees it: bytes in, bytes out, a
 * peer address and a close. A TCP connection is one as it is; other
 * transports (a WebSocket) adapt to it, so that every connection gets the
 * same limits, handshake and session.
 *
 * @module
 */

/** The part of `Deno.Conn` a session uses. */
export interface ChatConn {
  /** Reads into `buffer` like `Deno.Conn.read`: the byte count, or null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes `bytes` like `Deno.Conn.write`. It may resolve later than the
   * bytes leave this process (a transport that buffers resolves once its
   * buffer is low again), which is how back pressure reaches the queue.
   */
  write(bytes: Uint8Array): Promise<number>;
  /**
   * Closes the connection. A read waiting then ends (resolves null or
   * rejects): a session waits for input on nothing but its read, and its end
   * wakes that read by closing.
   */
  close(): void;
  /** The peer's address, as the connection limits count it. */
  readonly remoteAddr: Deno.NetAddr;
}
