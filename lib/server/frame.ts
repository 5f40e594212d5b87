/**
 * A frame: one room event with its wire encodings, each made on first use
 * and then shared by every session that speaks that encoding, so a message
 * sent to a thousand clients is encoded once per dialect, not once per client.
 *
 * It knows no protocol: whoever asks for the bytes passes the encoder.
 *
 * @module
 */

import type { ChatEvent } from "../protocol/model.ts";

/** Turns an event into its line, without the line break (a dialect is one). */
export interface EventEncoder {
  event(event: ChatEvent): string;
}

const encoder = new TextEncoder();

/** One event with its encodings, computed once per encoder and shared. */
export class Frame {
  readonly event: ChatEvent;
  // Two dialects exist: a pair of slots is cheaper than a Map per event.
  #firstEncoder: EventEncoder | undefined;
  #firstBytes: Uint8Array | undefined;
  #others: Map<EventEncoder, Uint8Array> | undefined;

  constructor(event: ChatEvent) {
    this.event = event;
  }

  /** The event's line in `by`'s encoding, line break included; the same array on every call. */
  bytes(by: EventEncoder): Uint8Array {
    if (this.#firstEncoder === by) return this.#firstBytes!;
    if (this.#firstEncoder === undefined) {
      this.#firstEncoder = by;
      return this.#firstBytes = encode(by, this.event);
    }
    this.#others ??= new Map();
    let bytes = this.#others.get(by);
    if (bytes === undefined) this.#others.set(by, bytes = encode(by, this.event));
    return bytes;
  }
}

function encode(by: EventEncoder, event: ChatEvent): Uint8Array {
  return encoder.encode(`${by.event(event)}\n`);
}
