/**
 * The protocol's error codes, and the texts of the refusals a server sends
 * before it knows which protocol a client speaks (`docs/protocol.md`,
 * "Errors"). The server sends these; the client reads them back into codes
 * and decides which ones a retry cannot fix.
 *
 * It defines no error texts other than those refusals: the rest say what
 * went wrong in their own words where they are raised. No I/O here.
 *
 * @module
 */

/** Every stable error code, in the order `docs/protocol.md` lists them. */
export const ERROR_CODES = [
  "bad_request",
  "bad_hello",
  "unknown_command",
  "invalid_name",
  "name_taken",
  "handshake_timeout",
  "server_full",
  "too_many_connections",
  "store_unavailable",
  "line_too_long",
  "not_sent",
  "slow_down",
  "flooding",
  "slow_consumer",
  "auth_required",
  "auth_failed",
  "auth_throttled",
  "not_registered",
  "already_registered",
  "bad_password",
] as const;

/** A stable error code; text mode shows only the error's text. */
export type ErrorCode = typeof ERROR_CODES[number];

// Refusals that no retry can fix: the hello itself is wrong, or its
// password (missing or not the name's) is, which only the user can change.
const PERMANENT_REFUSALS: ReadonlySet<string> = new Set<ErrorCode>([
  "bad_hello",
  "invalid_name",
  "auth_required",
  "auth_failed",
]);

/**
 * Whether a fatal error with this code means that connecting again with the
 * same hello is pointless. A taken name, a full server or throttled logins
 * may pass later.
 */
export function isPermanentRefusal(code: string): boolean {
  return PERMANENT_REFUSALS.has(code);
}

/** The refusal text when the server is at its connection limit (code `server_full`). */
export const SERVER_FULL_REFUSAL = "server full; try again later";

/** The refusal text when one address has too many connections (code `too_many_connections`). */
export const TOO_MANY_CONNECTIONS_REFUSAL =
  "too many connections from your address; try again later";

const HANDSHAKE_TIMEOUT_PREFIX = "no name received within";

/**
 * The refusal text when no first line came within the handshake timeout
 * (code `handshake_timeout`).
 *
 * @example
 * ```ts
 * handshakeTimeoutRefusal(10_000); // "no name received within 10 s"
 * ```
 */
export function handshakeTimeoutRefusal(timeoutMs: number): string {
  return `${HANDSHAKE_TIMEOUT_PREFIX} ${timeoutMs / 1000} s`;
}

// How each text refusal starts; the handshake timeout's ends with a number.
const TEXT_REFUSALS: readonly (readonly [start: string, code: ErrorCode])[] = [
  [SERVER_FULL_REFUSAL, "server_full"],
  [TOO_MANY_CONNECTIONS_REFUSAL, "too_many_connections"],
  [HANDSHAKE_TIMEOUT_PREFIX, "handshake_timeout"],
];

/**
 * The code of a refusal sent as text before the hello (the line without its
 * `! `), or undefined for a text this protocol version does not define.
 *
 * @example
 * ```ts
 * textRefusalCode("server full; try again later"); // "server_full"
 * textRefusalCode("no name received within 10 s"); // "handshake_timeout"
 * textRefusalCode("something else"); // undefined
 * ```
 */
export function textRefusalCode(text: string): ErrorCode | undefined {
  return TEXT_REFUSALS.find(([start]) => text.startsWith(start))?.[1];
}
