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
 * Frames that arrive together travel as a {@linkcode FrameRun}: their bytes
 * joined once per dialect, so a recipient that gets all of them queues one
 * array instead of one per frame.
 *
 * @module
 */

import type { ChatEvent } from "../protocol/model.ts";
import type { Dialect } from "../protocol/dialect.ts";
import { concat } from "../util/bytes.ts";

/** What a frame's line is made with: a dialect is one. */
export type FrameEncoder = Pick<Dialect, "event" | "notice">;

const encoder = new TextEncoder();

/** Bytes made once per encoder and then shared; two dialects exist, so a pair of slots beats a Map. */
abstract class Encoded {
  #firstEncoder: FrameEncoder | undefined;
  #firstBytes: Uint8Array | undefined;
  #others: Map<FrameEncoder, Uint8Array> | undefined;

  /** The bytes in `by`'s encoding, line breaks included; the same array on every call. */
  bytes(by: FrameEncoder): Uint8Array {
    if (this.#firstEncoder === by) return this.#firstBytes!;
    if (this.#firstEncoder === undefined) {
      this.#firstEncoder = by;
      return this.#firstBytes = this.encode(by);
    }
    this.#others ??= new Map();
    let bytes = this.#others.get(by);
    if (bytes === undefined) this.#others.set(by, bytes = this.encode(by));
    return bytes;
  }

  protected abstract encode(by: FrameEncoder): Uint8Array;
}

/** One line with its encodings, computed once per encoder and shared. */
export class Frame extends Encoded {
  /** The room event it carries; `undefined` for a line this replica composed. */
  readonly event: ChatEvent | undefined;
  readonly #line: (by: FrameEncoder) => string;

  private constructor(event: ChatEvent | undefined, line: (by: FrameEncoder) => string) {
    super();
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

  protected encode(by: FrameEncoder): Uint8Array {
    return encoder.encode(`${this.#line(by)}\n`);
  }
}

/** Frames delivered together, in order, with their joined encodings. */
export class FrameRun extends Encoded {
  readonly frames: readonly Frame[];
  /** How many of the frames carry a chat message. */
  readonly messages: number;
  #origins: Set<string> | undefined;

  constructor(frames: readonly Frame[]) {
    super();
    this.frames = frames;
    let messages = 0;
    for (const frame of frames) if (frame.event?.type === "message") messages++;
    this.messages = messages;
  }

  /** Whether any frame carries an event from `origin` (a dialect may skip a client's own events). */
  hasOrigin(origin: string): boolean {
    if (this.#origins === undefined) {
      this.#origins = new Set();
      for (const { event } of this.frames) if (event) this.#origins.add(event.origin);
    }
    return this.#origins.has(origin);
  }

  protected encode(by: FrameEncoder): Uint8Array {
    return concat(this.frames.map((frame) => frame.bytes(by)));
  }
}
