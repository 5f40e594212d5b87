/**
 * Waiting, but not for longer than a deadline: every race against a timer
 * in the project goes through {@linkcode within} or {@linkcode sleep}, so
 * that each timer is cleared on every path (Deno's test sanitizers check).
 *
 * The promise raced is neither cancelled nor awaited after the deadline; the
 * caller keeps it (a read still pending can be awaited later) or discards it.
 *
 * @module
 */

/** What {@linkcode within} returns when the deadline passed (or the wait was aborted) first. */
export const EXPIRED: unique symbol = Symbol("expired");

/**
 * Resolves with `promise`'s value, or {@linkcode EXPIRED} after `ms` (never,
 * when `ms` is `Infinity`) or once `signal` aborts, whichever comes first.
 * A rejection of `promise` before then rejects.
 *
 * @example
 * ```ts
 * const reading = conn.read(buffer);
 * const n = await within(reading, 50);
 * if (n === EXPIRED) {
 *   // 50 ms of silence; `reading` is still pending and can be awaited later.
 * }
 * ```
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  signal?: AbortSignal,
): Promise<T | typeof EXPIRED> {
  if (signal?.aborted) return EXPIRED;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = () => {};
  try {
    return await Promise.race([
      promise,
      new Promise<typeof EXPIRED>((resolve) => {
        if (ms !== Infinity) timer = setTimeout(() => resolve(EXPIRED), ms);
        onAbort = () => resolve(EXPIRED);
        signal?.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await within(new Promise<never>(() => {}), ms, signal);
}
