/**
 * The gate between the handshake and the name claim: a registered name is
 * only given to a client that proves its password. This is the one place
 * that rule is applied; every transport's session calls {@linkcode signIn}
 * after its handshake and before claiming the name.
 *
 * - An unregistered name passes at once, as before accounts existed.
 * - JSON mode: the hello carries `password`. Without it the client is
 *   refused with `auth_required`, with a wrong one `auth_failed`, when
 *   throttled `auth_throttled`; all fatal, before anything is shown.
 * - Text mode (`nc`, the old client): the client is told to log in and is
 *   held (not shown to the room, given no history, not listed online)
 *   until `/login PASSWORD` succeeds, within the handshake timeout. Wrong
 *   passwords are answered and may be tried again, within the throttle.
 *
 * It does not claim the name, join the room or write the last words: the
 * session does, with the {@linkcode SessionEnd} returned.
 *
 * @module
 */

import type { Dialect } from "../protocol/dialect.ts";
import { textDialect } from "../protocol/text_dialect.ts";
import { EXPIRED, within } from "../util/deadline.ts";
import type { Line } from "../util/line_reader.ts";
import type { AccountDesk, Asker } from "./account_desk.ts";
import type { SessionEnd } from "./session_end.ts";

/** What {@linkcode signIn} needs from the session. */
export interface SignInIo {
  /** The client's lines after its first one. */
  lines: AsyncIterator<Line>;
  /** Text mode clients are held and asked to log in; others are refused until their hello has it. */
  dialect: Dialect;
  /** Queues lines for the client. */
  reply(...lines: string[]): void;
  /** How long a held text-mode client has to log in. */
  timeoutMs: number;
  /** Aborted when the session is being stopped. */
  signal: AbortSignal;
}

/**
 * Admits `asker.user` (returns null) or says how the session ends.
 * `password` is the hello's (JSON mode), if it carried one.
 *
 * @throws {StoreUnavailableError} when the accounts cannot be read.
 */
export async function signIn(
  desk: AccountDesk,
  asker: Asker,
  password: string | undefined,
  io: SignInIo,
): Promise<SessionEnd | null> {
  const { user } = asker;
  if (password !== undefined || io.dialect !== textDialect) {
    if (password === undefined) {
      if (!await desk.isRegistered(user)) return null;
      return refused("auth_required", `${user} is registered: say hello with its password`);
    }
    const outcome = await desk.login(asker, password);
    return outcome.ok ? null : { kind: "refused", error: outcome.error };
  }
  if (!await desk.isRegistered(user)) return null;
  const seconds = io.timeoutMs / 1000;
  const prompt = io.dialect.error({
    code: "auth_required",
    text: `${user} is registered: log in with /login PASSWORD within ${seconds} s`,
  });
  io.reply(prompt);
  const deadline = Date.now() + io.timeoutMs;
  while (true) {
    const next = io.lines.next();
    const result = await within(next, Math.max(0, deadline - Date.now()), io.signal);
    if (result === EXPIRED) {
      // The pending read fails once the connection closes; that is expected.
      next.catch(() => {});
      if (io.signal.aborted) return { kind: "peer_gone" };
      return refused("auth_required", `not logged in within ${seconds} s`);
    }
    if (result.done) return { kind: "peer_gone" };
    const request = result.value.type === "line" ? io.dialect.parse(result.value.text) : null;
    if (request === null) continue;
    if (request.type === "quit") return { kind: "quit" };
    if (request.type !== "account" || request.action !== "login") {
      io.reply(prompt);
      continue;
    }
    const outcome = await desk.login(asker, request.password);
    if (outcome.ok) {
      io.reply(io.dialect.notice("logged_in", `logged in as ${user}`));
      return null;
    }
    io.reply(io.dialect.error(outcome.error));
  }
}

function refused(code: "auth_required", text: string): SessionEnd {
  return { kind: "refused", error: { code, text } };
}
