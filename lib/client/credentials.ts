/**
 * The client's password for a registered name, kept in memory only so that
 * every hello (reconnections included) proves the name without asking the
 * user again. It changes only when the server confirms an account request.
 *
 * It does no I/O and never shows a password; `connection.ts` sends what it
 * builds and feeds back the server's notices.
 *
 * @module
 */

import type { AccountAction } from "../protocol/commands.ts";
import type { ClientRequest } from "../protocol/server_events.ts";

/** The password of this client's name, and the one of a request awaiting its answer. */
export class Credentials {
  #password: string | undefined;
  #pending: string | undefined;

  constructor(password?: string) {
    this.#password = password;
  }

  /** Uses `password` for the next hellos (the user typed it to join). */
  login(password: string): void {
    this.#password = password;
  }

  /** The password to send in the hello, if any. */
  get password(): string | undefined {
    return this.#password;
  }

  /**
   * The request for `action` with its passwords (`passwd`: old, then new),
   * remembering the password it would make current.
   */
  request(action: AccountAction, passwords: readonly string[]): ClientRequest {
    const [password, newPassword] = passwords;
    this.#pending = action === "passwd" ? newPassword : password;
    return action === "passwd"
      ? { type: "passwd", old: password, new: newPassword }
      : { type: action, password };
  }

  /** Takes note of a notice from the server: a confirmed request changes the password. */
  noticed(code: string): void {
    if (code === "registered" || code === "password_changed" || code === "logged_in") {
      this.#password = this.#pending ?? this.#password;
    } else if (code === "unregistered") {
      this.#password = undefined;
    }
    this.#pending = undefined;
  }
}
