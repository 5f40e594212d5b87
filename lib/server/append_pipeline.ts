/**
 * One session's messages on their way into the store: the next line is read
 * while earlier messages are stored (the store batches them, see
 * `../store/append_batcher.ts`), up to a bound, so a fast sender is not held
 * to one store round trip per message and a flood cannot pile up appends.
 *
 * It only counts and waits; what storing means and how a failure is told to
 * the client is the session's business.
 *
 * @module
 */

/** A bounded set of appends in flight, oldest first. */
export class AppendPipeline {
  readonly #limit: number;
  /** Made by the first append: most connections never send, and idle ones dominate memory. */
  #inFlight: Set<Promise<void>> | undefined;

  /** @param limit Most appends in flight at once. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * Starts `append` once fewer than the limit are in flight (waiting for the
   * oldest otherwise) and returns without waiting for it: `undefined` when it
   * started at once, else a promise that resolves once it has started.
   * `append` must not reject. The store keeps the order of appends, so
   * messages keep theirs.
   */
  add(append: () => Promise<void>): Promise<void> | undefined {
    const inFlight = this.#inFlight ??= new Set();
    // Most appends start at once: no promise is made for them, as a fast sender makes thousands.
    if (inFlight.size < this.#limit) return start(inFlight, append);
    return inFlight.values().next().value!.then(() => start(inFlight, append));
  }

  /** Resolves once every append started so far has settled. */
  async settled(): Promise<void> {
    await Promise.all(this.#inFlight ?? []);
  }
}

function start(inFlight: Set<Promise<void>>, append: () => Promise<void>): undefined {
  const started: Promise<void> = append().finally(() => inFlight.delete(started));
  inFlight.add(started);
}
