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
   * oldest otherwise) and returns without waiting for it. `append` must not
   * reject. The store keeps the order of appends, so messages keep theirs.
   */
  async add(append: () => Promise<void>): Promise<void> {
    const inFlight = this.#inFlight ??= new Set();
    if (inFlight.size >= this.#limit) await inFlight.values().next().value;
    const started: Promise<void> = append().finally(() => inFlight.delete(started));
    inFlight.add(started);
  }

  /** Resolves once every append started so far has settled. */
  async settled(): Promise<void> {
    await Promise.all(this.#inFlight ?? []);
  }
}
