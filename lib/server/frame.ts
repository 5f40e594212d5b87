/**
 * A frame: one line for the room with its wire encodings, each made on first
 * use and then shared by every session that speaks that encoding, so a
 * message sent to a thousand clients is encoded once per dialect, not once
 * per client.
 *
 * Most frames carry a room event; a few carry a line this replica composes
 * itself (a summary of join and leave notices, see `notice_summary.ts`). It
 * knows no protocol: whoever asks for the bytes passes the dialect.
 *
 * @module
 */

import type { ChatEvent } from "../protocol/model.ts";
import type { Dialect } from "../protocol/dialect.ts";

/** What a frame's line is made with: a dialect is one. */
export type FrameEncoder = Pick<Dialect, "event" | "notice">;

const encoder = new TextEncoder();

/** One line with its encodings, computed once per encoder and shared. */
export class Frame {
  /** The room event it carries; `undefined` for a line this replica composed. */
  readonly event: ChatEvent | undefined;
  readonly #line: (by: FrameEncoder) => string;
  // Two dialects exist: a pair of slots is cheaper than a Map per event.
  #firstEncoder: FrameEncoder | undefined;
  #firstBytes: Uint8Array | undefined;
  #others: Map<FrameEncoder, Uint8Array> | undefined;

  private constructor(event: ChatEvent | undefined, line: (by: FrameEncoder) => string) {
    this.event = event;
    this.#line = line;
  }

  /** A frame carrying a room event. */
  static of(event: ChatEvent): Frame {
    return new Frame(event, (by) => by.event(event));
  }

  /** A frame carrying a line this replica composed, in each encoder's words. */
  static composed(line: (by: FrameEncoder) => string): Frame {
    return new Frame(undefined, line);
  }

  /** The line in `by`'s encoding, line break included; the same array on every call. */
  bytes(by: FrameEncoder): Uint8Array {
    if (this.#firstEncoder === by) return this.#firstBytes!;
    if (this.#firstEncoder === undefined) {
      this.#firstEncoder = by;
      return this.#firstBytes = this.#encode(by);
    }
    this.#others ??= new Map();
    let bytes = this.#others.get(by);
    if (bytes === undefined) this.#others.set(by, bytes = this.#encode(by));
    return bytes;
  }

  #encode(by: FrameEncoder): Uint8Array {
    return encoder.encode(`${this.#line(by)}\n`);
  }
}
