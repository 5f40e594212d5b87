/**
 * An unbounded first-in first-out queue read as an async iterator: producers
 * push without waiting, one consumer reads with `for await`, and the
 * iteration ends once the queue is closed and drained.
 *
 * It is for event streams whose producer must not block (network events to
 * the screen). It has no back-pressure and supports a single consumer.
 *
 * @module
 */

/**
 * A queue of `T` that ends when closed.
 *
 * @example
 * ```ts
 * const queue = new AsyncQueue<number>();
 * queue.push(1);
 * queue.close();
 * for await (const n of queue) console.log(n); // 1
 * ```
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #closed = false;
  #wake: (() => void) | null = null;

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an item; ignored once closed. */
  push(item: T): void {
    if (this.#closed) return;
    this.#items.push(item);
    this.#wake?.();
  }

  /** Ends the iteration after the items already pushed. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      while (this.#items.length > 0) yield this.#items.shift()!;
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = null;
    }
  }
}
