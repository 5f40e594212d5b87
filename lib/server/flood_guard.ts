/**
 * Per-connection flood control: a token bucket, and the policy that turns it
 * into "send it", "slow down" or "disconnect" for each message.
 *
 * The policy is IRC's fake lag, with refusal instead of delay. Every message
 * a client sends costs one token, refused ones included; tokens come back at
 * `rate` per second up to `burst`. A message is accepted when a whole token
 * is there to pay for it. Otherwise it is refused (the session answers
 * `! slow down`) and its token is borrowed: the bucket goes into debt. A
 * client whose debt would exceed `burst` tokens is disconnected.
 *
 * In practice, with rate `r` and burst `b`:
 * - `b` messages at once pass, then one every `1/r` seconds;
 * - a client that sends faster than `r` on average is refused, and if it
 *   keeps going it is disconnected: flooding from a full bucket, after `b`
 *   accepted and `b` refused messages;
 * - a client that pauses after being refused recovers: a debt of `d` tokens
 *   is repaid after `d/r` seconds, and the next message needs one more token.
 *
 * Nothing here allocates per message or reads a clock the caller cannot
 * replace, so it costs nothing measurable on the hot path and is testable
 * with injected time. It does not count bytes (the line reader caps those),
 * and it does not decide what the client is told.
 *
 * @module
 */

/**
 * A token bucket: holds up to `burst` tokens and gains `rate` tokens per
 * second. Time is a millisecond timestamp from a monotonic clock
 * (`performance.now()` unless the caller passes its own).
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(5, 10);
 * if (!bucket.take()) console.log("over the limit");
 * ```
 */
export class TokenBucket {
  /** Tokens gained per second. */
  readonly rate: number;
  /** Most tokens held, which is how many takes may happen at once. */
  readonly burst: number;
  #tokens: number;
  #at: number;

  /**
   * Creates a full bucket.
   *
   * @param rate tokens gained per second; finite and above 0.
   * @param burst capacity; finite and at least 1.
   * @param now the current time in milliseconds.
   * @throws {RangeError} when `rate` or `burst` is out of range.
   */
  constructor(rate: number, burst: number, now: number = performance.now()) {
    if (!(Number.isFinite(rate) && rate > 0)) {
      throw new RangeError(`token bucket rate must be a finite number above 0, got ${rate}`);
    }
    if (!(Number.isFinite(burst) && burst >= 1)) {
      throw new RangeError(
        `token bucket burst must be a finite number of at least 1, got ${burst}`,
      );
    }
    this.rate = rate;
    this.burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /**
   * Takes one token if a whole one is there.
   *
   * @param now the current time in milliseconds.
   * @returns whether a token was taken.
   */
  take(now: number = performance.now()): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * Takes one token whether or not there is one, letting the level fall as
   * low as `-limit` (a debt repaid by later refills).
   *
   * @param limit the largest debt allowed, in tokens.
   * @param now the current time in milliseconds.
   * @returns whether the token was taken; false when it would exceed the debt
   *   limit, in which case nothing changes.
   */
  borrow(limit: number, now: number = performance.now()): boolean {
    this.#refill(now);
    if (this.#tokens - 1 < -limit) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * The number of tokens held (negative while in debt).
   *
   * @param now the current time in milliseconds.
   */
  level(now: number = performance.now()): number {
    this.#refill(now);
    return this.#tokens;
  }

  #refill(now: number): void {
    // A clock that goes backwards (an injected one) must not drain the bucket.
    const elapsed = now - this.#at;
    if (elapsed <= 0) return;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate / 1000);
    this.#at = now;
  }
}

/** What to do with one message, as decided by {@linkcode FloodGuard.check}. */
export type FloodVerdict = "ok" | "slow_down" | "disconnect";

/** Options for {@linkcode FloodGuard}. */
export interface FloodGuardOptions {
  /** Messages per second, on average (`RATE_LIMIT`, default 5). */
  rate: number;
  /** Messages at once before the rate applies, and the refusals tolerated (`RATE_BURST`, default 10). */
  burst: number;
}

/**
 * Decides, message by message, whether a connection is within its rate,
 * over it, or flooding. The rule (also in the module documentation): every
 * message costs one token, refused ones included; a message is `"ok"` when a
 * whole token is there, `"slow_down"` when it can be borrowed without the
 * debt exceeding `burst`, and `"disconnect"` otherwise.
 *
 * The caller must answer every `"slow_down"` with an error line (never drop
 * it silently) and close the connection on `"disconnect"`. Until the debt is
 * repaid no message is `"ok"`, so even a caller slow to close lets nothing
 * through.
 *
 * @example
 * ```ts
 * const guard = new FloodGuard({ rate: 5, burst: 10 });
 * switch (guard.check()) {
 *   case "ok": // store and broadcast the message
 *     break;
 *   case "slow_down": // answer "! slow down"
 *     break;
 *   case "disconnect": // say why, then close
 *     break;
 * }
 * ```
 */
export class FloodGuard {
  readonly #bucket: TokenBucket;

  /**
   * @param options rate and burst; see {@linkcode FloodGuardOptions}.
   * @param now the current time in milliseconds.
   * @throws {RangeError} when the rate or burst is out of range.
   */
  constructor(options: FloodGuardOptions, now: number = performance.now()) {
    this.#bucket = new TokenBucket(options.rate, options.burst, now);
  }

  /**
   * Charges one message and returns what to do with it.
   *
   * @param now the current time in milliseconds.
   */
  check(now: number = performance.now()): FloodVerdict {
    if (this.#bucket.take(now)) return "ok";
    if (this.#bucket.borrow(this.#bucket.burst, now)) return "slow_down";
    return "disconnect";
  }
}
