/**
 * Waiting for something that happens on its own time (a claim expiring, a
 * server noticing a close), with a bound, instead of sleeping a fixed time.
 *
 * @module
 */

import { sleep } from "../../lib/util/deadline.ts";

/**
 * Calls `check` every `intervalMs` until it returns something other than
 * `undefined`, `null` or `false`, and returns that.
 *
 * @throws {Error} naming `what` when `timeoutMs` passes first.
 */
export async function poll<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 10_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const result = await check();
    if (result !== undefined && result !== null && result !== false) return result;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}
