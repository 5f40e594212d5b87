/**
 * Where a client comes back after losing its connection: the id of the last
 * message it delivered (the `since` of its next hello), the epoch of the
 * history those ids belong to, and the resume token of its last session,
 * which takes its name back even from a replica that crashed
 * (`docs/protocol.md`, "Resuming after a lost connection").
 *
 * It only remembers; `connection.ts` sends the hello and acts on what comes.
 *
 * @module
 */

/** What `history_end` carries. */
export interface HistoryEnd {
  id: number;
  epoch?: string;
  token?: string;
}

/** The fields of a hello that resumes. */
export interface ResumeFields {
  since: number;
  epoch?: string;
  token?: string;
}

/**
 * A client's resume point.
 *
 * @example
 * ```ts
 * const point = new ResumePoint();
 * point.joined({ id: 41, epoch: "e1", token: "t1" });
 * point.advance(42); // true: a new message
 * point.advance(42); // false: seen already
 * point.hello(); // { since: 42, epoch: "e1", token: "t1" }
 * ```
 */
export class ResumePoint {
  #lastId = 0;
  #epoch: string | undefined;
  #token: string | undefined;

  /** Whether a message with this id is new; if it is, it becomes the last one delivered. */
  advance(id: number): boolean {
    if (id <= this.#lastId) return false;
    this.#lastId = id;
    return true;
  }

  /** The history was reset: the ids seen belong to a lost history, so every id is new again. */
  reset(): void {
    this.#lastId = 0;
  }

  /**
   * The history ended at `end`. Its id is taken even when lower than the
   * last one seen: the server's history was replaced and its ids start again.
   */
  joined(end: HistoryEnd): void {
    this.#lastId = end.id;
    this.#epoch = end.epoch ?? this.#epoch;
    this.#token = end.token ?? this.#token;
  }

  /** The fields of the next hello: the newest token, and the epoch with `since`. */
  hello(): ResumeFields {
    const fields: ResumeFields = { since: this.#lastId };
    if (this.#epoch !== undefined) fields.epoch = this.#epoch;
    if (this.#token !== undefined) fields.token = this.#token;
    return fields;
  }
}
