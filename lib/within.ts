/**
 * Waiting for a promise, but not for longer than a deadline: the readers use
 * it to notice silence (a line without a break, a lone Escape key) while a
 * read is still pending. The promise itself is neither cancelled nor
 * awaited after the deadline; the caller keeps it and awaits it later.
 *
 * @module
 */

/** What {@linkcode within} returns when the deadline passed first. */
export const IDLE: unique symbol = Symbol("idle");

/**
 * Resolves with `promise`'s value, or {@linkcode IDLE} after `ms`.
 *
 * @example
 * ```ts
 * const reading = conn.read(buffer);
 * const n = await within(reading, 50);
 * if (n === IDLE) {
 *   // 50 ms of silence; `reading` is still pending and can be awaited later.
 * }
 * ```
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof IDLE> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof IDLE>((resolve) => timer = setTimeout(() => resolve(IDLE), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
