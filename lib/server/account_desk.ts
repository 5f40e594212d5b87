/**
 * The account requests of one replica: checking a password against a
 * registered name (within the {@linkcode LoginThrottle}), and `/register`,
 * `/login`, `/passwd`, `/unregister` from a joined client, each answered
 * with one notice or one error.
 *
 * A password only passes through here: it is never logged, echoed or put
 * in an error text. Log entries name the user, the address and the outcome.
 * It does not hold a client before it logs in: `sign_in.ts` does, with
 * {@linkcode AccountDesk.login}.
 *
 * @module
 */

import type { AccountRequest, Dialect, NoticeCode, ProtocolError } from "../protocol/dialect.ts";
import type { Logger } from "../ops/log.ts";
import type { Accounts } from "../store/accounts.ts";
import { StoreUnavailableError } from "../store/store.ts";
import { foldName } from "../store/presence.ts";
import type { LoginThrottle } from "./login_throttle.ts";
import { type HashParameters, hashPassword, passwordProblem, verifyPassword } from "./passwords.ts";

/** What an {@linkcode AccountDesk} works with. */
export interface AccountDeskOptions {
  accounts: Accounts;
  throttle: LoginThrottle;
  logger: Logger;
  /** scrypt parameters for new records; `passwords.ts`'s defaults otherwise. */
  hashParameters?: HashParameters;
}

/** Who asks: the user it joined as, and where it connects from. */
export interface Asker {
  user: string;
  /** The remote IP address (no port): what the throttle counts. */
  address: string;
  /** Address and port, for the log. */
  remote: string;
}

/** The answer to one account request. */
export type AccountReply =
  | { notice: { code: NoticeCode; text: string } }
  | { error: ProtocolError };

/** A login attempt's outcome: admitted, or the error that says why not. */
export type LoginOutcome = { ok: true } | { ok: false; error: ProtocolError };

/** Checks passwords and carries out account requests. */
export class AccountDesk {
  readonly #accounts: Accounts;
  readonly #throttle: LoginThrottle;
  readonly #logger: Logger;
  readonly #parameters: HashParameters | undefined;

  constructor(options: AccountDeskOptions) {
    this.#accounts = options.accounts;
    this.#throttle = options.throttle;
    this.#logger = options.logger;
    this.#parameters = options.hashParameters;
  }

  /**
   * Whether `user` is registered.
   *
   * @throws {StoreUnavailableError}
   */
  async isRegistered(user: string): Promise<boolean> {
    return await this.#accounts.get(user) !== null;
  }

  /**
   * Checks `password` for the registered name `asker.user`, unless the
   * throttle says this address must wait. An unregistered name passes.
   *
   * @throws {StoreUnavailableError}
   */
  async login(asker: Asker, password: string): Promise<LoginOutcome> {
    const record = await this.#accounts.get(asker.user);
    if (!record) return { ok: true };
    const failure = await this.#check(asker, password, record);
    return failure ? { ok: false, error: failure } : { ok: true };
  }

  /**
   * Carries out a joined client's account request and returns the line
   * that answers it in `dialect`; a store failure is answered too.
   */
  async answer(asker: Asker, request: AccountRequest, dialect: Dialect): Promise<string> {
    let reply: AccountReply;
    try {
      reply = await this.handle(asker, request);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      this.#logger.warn("account request failed", {
        remote: asker.remote,
        user: asker.user,
        error: error.message,
      });
      reply = {
        error: { code: "store_unavailable", text: "the account store is unavailable; try again" },
      };
    }
    return "notice" in reply
      ? dialect.notice(reply.notice.code, reply.notice.text)
      : dialect.error(reply.error);
  }

  /**
   * Carries out a joined client's account request.
   *
   * @throws {StoreUnavailableError}
   */
  async handle(asker: Asker, request: AccountRequest): Promise<AccountReply> {
    const { user } = asker;
    const record = await this.#accounts.get(user);
    if (request.action === "register") {
      if (record) return alreadyRegistered(user);
      const problem = passwordProblem(request.password);
      if (problem) return { error: { code: "bad_password", text: `${problem}; not registered` } };
      const made = await hashPassword(request.password, this.#parameters);
      if (!await this.#accounts.create(user, made)) return alreadyRegistered(user);
      this.#log("registered", asker);
      return notice("registered", `${user} is registered: from now on it needs your password`);
    }
    if (!record) {
      return {
        error: { code: "not_registered", text: `${user} is not registered; /register it first` },
      };
    }
    const failure = await this.#check(asker, request.password, record);
    if (failure) return { error: failure };
    switch (request.action) {
      case "login":
        return notice("logged_in", `logged in as ${user}`);
      case "passwd": {
        const problem = passwordProblem(request.newPassword ?? "");
        if (problem) {
          return { error: { code: "bad_password", text: `${problem}; password not changed` } };
        }
        const made = await hashPassword(request.newPassword!, this.#parameters);
        if (!await this.#accounts.replace(user, record, made)) return changedMeanwhile();
        this.#log("password changed", asker);
        return notice("password_changed", "password changed");
      }
      case "unregister":
        if (!await this.#accounts.remove(user, record)) return changedMeanwhile();
        this.#log("unregistered", asker);
        return notice("unregistered", `${user} is no longer registered; anyone may use it`);
    }
  }

  /** The error for a password that is throttled or wrong, or null when it is right. */
  async #check(
    asker: Asker,
    password: string,
    record: NonNullable<Awaited<ReturnType<Accounts["get"]>>>,
  ): Promise<ProtocolError | null> {
    const name = foldName(asker.user);
    const verdict = this.#throttle.check(name, asker.address);
    if (!verdict.allowed) {
      const seconds = Math.ceil(verdict.retryAfterMs / 1000);
      this.#log("login throttled", asker, { retryS: seconds });
      return {
        code: "auth_throttled",
        text: `too many wrong passwords; try again in ${seconds} s`,
      };
    }
    if (!await verifyPassword(password, record)) {
      this.#throttle.failed(name, asker.address);
      this.#log("wrong password", asker);
      return { code: "auth_failed", text: `wrong password for ${asker.user}` };
    }
    this.#throttle.succeeded(name, asker.address);
    return null;
  }

  #log(message: string, asker: Asker, fields: Record<string, number> = {}): void {
    const level = message === "wrong password" || message === "login throttled" ? "warn" : "info";
    this.#logger[level](message, { remote: asker.remote, user: asker.user, ...fields });
  }
}

function notice(code: NoticeCode, text: string): AccountReply {
  return { notice: { code, text } };
}

function alreadyRegistered(user: string): AccountReply {
  return { error: { code: "already_registered", text: `${user} is registered already` } };
}

function changedMeanwhile(): AccountReply {
  return {
    error: { code: "auth_failed", text: "the account changed meanwhile; nothing was done" },
  };
}
