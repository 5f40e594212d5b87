/**
 * Exponential backoff with jitter: how long to wait before the next attempt
 * to reach something that failed. The Redis connections and the client's
 * reconnect both use it, so that clients or replicas dropped together do not
 * all come back at the same instant.
 *
 * It only computes delays; it neither sleeps nor counts attempts.
 *
 * @module
 */

/** How the delay grows. */
export interface BackoffOptions {
  /** The delay before jitter of attempt 1 (later attempts double it). */
  initialMs: number;
  /** The longest delay before jitter. */
  maxMs: number;
  /** Random numbers in [0, 1); `Math.random` by default (tests pass their own). */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry): the
 * doubled base, capped at `maxMs`, then a random point in its upper half.
 *
 * @example
 * ```ts
 * backoffDelay(3, { initialMs: 100, maxMs: 5_000 }); // between 200 and 400
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  // Past 2^30 the cap has long been reached; the bound keeps the power finite.
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt - 1, 30));
  return base / 2 + random() * base / 2;
}
