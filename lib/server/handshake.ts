/**
 * The handshake: the client's first line, read within the handshake timeout,
 * says who it is and which dialect it speaks. A name starts the text
 * protocol, a `{` starts the JSON protocol with a hello object; an HTTP
 * request is recognised so that it can be answered and never shown as a
 * user.
 *
 * It only decides: it does not write to the client, count, log or claim the
 * name (the session does, see `session_end.ts` for refusals).
 *
 * @module
 */

import { handshakeTimeoutRefusal } from "../protocol/errors.ts";
import { type Dialect, isHttpRequest } from "../protocol/dialect.ts";
import { jsonDialect, parseHello } from "../protocol/json_dialect.ts";
import { textDialect } from "../protocol/text_dialect.ts";
import { EXPIRED, within } from "../util/deadline.ts";
import type { Line } from "../util/line_reader.ts";
import { nameProblem } from "../protocol/names.ts";
import { sanitize } from "../util/sanitize.ts";
import type { SessionEnd } from "./session_end.ts";

/** Who a client is, as agreed in the handshake. */
export interface Identity {
  /** The name, sanitised and NFC-normalised; not yet claimed. */
  user: string;
  dialect: Dialect;
  /** JSON mode: replay only messages with a higher id. */
  since?: number;
  /** JSON mode: the history epoch `since` belongs to (see `resume.ts`). */
  epoch?: string;
  /** JSON mode: the resume token of the client's previous session. */
  token?: string;
  /** Whether the client can resume (JSON mode): it gets a resume token and the epoch. */
  resumable: boolean;
  /** JSON mode: the password of a registered name (see `sign_in.ts`); never logged. */
  password?: string;
}

/** The handshake's outcome: an identity, or how the session ends and in which dialect. */
export type HandshakeResult =
  | { identity: Identity }
  | { end: SessionEnd; dialect: Dialect };

/** The limits a handshake works within. */
export interface HandshakeOptions {
  handshakeTimeoutMs: number;
  maxLineBytes: number;
  /** Aborts the wait for the first line (the session is being stopped). */
  signal?: AbortSignal;
}

/**
 * Reads the first line from `lines` and decides who the client is.
 *
 * @example
 * ```ts
 * const result = await handshake(lines, { handshakeTimeoutMs: 10_000, maxLineBytes: 4096 });
 * if ("identity" in result) console.log(result.identity.user);
 * ```
 */
export async function handshake(
  lines: AsyncIterator<Line>,
  options: HandshakeOptions,
): Promise<HandshakeResult> {
  let dialect: Dialect = textDialect;
  const refuse = (error: { code: "line_too_long" | "invalid_name"; text: string }) => ({
    end: { kind: "refused", error } as const,
    dialect,
  });
  const first = lines.next();
  const result = await within(first, options.handshakeTimeoutMs, options.signal);
  if (result === EXPIRED) {
    // The pending read fails once the connection closes; that is expected.
    first.catch(() => {});
    if (options.signal?.aborted) return { end: { kind: "peer_gone" }, dialect };
    return {
      end: {
        kind: "refused",
        error: {
          code: "handshake_timeout",
          text: handshakeTimeoutRefusal(options.handshakeTimeoutMs),
        },
      },
      dialect,
    };
  }
  if (result.done) return { end: { kind: "peer_gone" }, dialect };
  const line = result.value;
  if (line.type === "too_long") {
    return refuse({
      code: "line_too_long",
      text: `name line too long (max ${options.maxLineBytes} bytes)`,
    });
  }
  if (isHttpRequest(line.text)) return { end: { kind: "http_probe" }, dialect };
  let identity: Identity = { user: line.text, dialect, resumable: false };
  if (line.text.startsWith("{")) {
    dialect = jsonDialect;
    const hello = parseHello(line.text);
    if ("code" in hello) return { end: { kind: "refused", error: hello }, dialect };
    identity = { ...hello, dialect, resumable: true };
  }
  // NFC, so that "Zoë" typed precomposed or decomposed is one name.
  const name = sanitize(identity.user).trim().normalize("NFC");
  const problem = nameProblem(name);
  if (problem) return refuse({ code: "invalid_name", text: `invalid name: ${problem}` });
  return { identity: { ...identity, user: name } };
}
