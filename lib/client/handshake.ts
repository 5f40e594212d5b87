/**
 * Joining over a fresh {@linkcode ServerLink}: the hello (with `since`, the
 * history's epoch and the resume token when resuming), then the history up to `history_end`, all within a deadline.
 * A fatal error instead of the history is the server refusing the client.
 *
 * It neither opens nor retries connections and does not interpret the
 * history: each event is handed to the caller as it comes.
 *
 * @module
 */

import { EXPIRED, within } from "../util/deadline.ts";
import type { ServerEvent } from "../protocol/server_events.ts";
import type { HistoryEnd, ResumeFields } from "./resume_point.ts";
import type { ServerLink } from "./server_link.ts";

/** The connection could not be made or joined, or the server refused it. */
export class ConnectError extends Error {
  /** The server's error code when it refused; undefined for network errors. */
  readonly code: string | undefined;

  constructor(message: string, code?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
    this.code = code;
  }
}

/** The server answered the hello with a fatal error. */
export class RefusedError extends ConnectError {
  override readonly code: string;

  constructor(code: string, text: string) {
    super(text, code);
    this.name = "RefusedError";
    this.code = code;
  }
}

/** Who joins, and for how long to wait. */
export interface Hello {
  user: string;
  /** Where to resume (see `resume_point.ts`); undefined on the first join. */
  resume?: ResumeFields;
  /** The password of a registered name. */
  password?: string;
  /** Longest time from the hello to the end of the history. */
  timeoutMs: number;
  /** Aborted when the user is leaving, which explains a link closed meanwhile. */
  signal: AbortSignal;
}

/**
 * Says hello on `link` and reads the history, handing each event before
 * `history_end` to `onEvent`. Past `timeoutMs` the link is closed.
 *
 * @returns what `history_end` carries.
 * @throws {RefusedError} when the server answers with a fatal error.
 * @throws {ConnectError} when the link ends before the history does.
 */
export async function handshake(
  link: ServerLink,
  hello: Hello,
  onEvent: (event: ServerEvent) => void,
): Promise<HistoryEnd> {
  const history = readHistory(link, hello, onEvent);
  // Out of time: closing the link ends the read, which then says why.
  if (await within(history, hello.timeoutMs) === EXPIRED) link.close();
  return await history;
}

async function readHistory(
  link: ServerLink,
  { user, resume, password, timeoutMs, signal }: Hello,
  onEvent: (event: ServerEvent) => void,
): Promise<HistoryEnd> {
  link.send({ type: "hello", user, ...resume, ...password === undefined ? {} : { password } });
  while (true) {
    const event = await link.next();
    if (event === null) {
      throw new ConnectError(
        signal.aborted
          ? "leaving"
          : `the server closed the connection before the history ended (waited at most ${
            Math.round(timeoutMs / 1000)
          } s)`,
      );
    }
    if (event.type === "error" && event.fatal) throw new RefusedError(event.code, event.text);
    if (event.type === "history_end") return event;
    onEvent(event);
  }
}
