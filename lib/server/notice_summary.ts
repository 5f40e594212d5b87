/**
 * Join and leave notices in big rooms: above a room size, the notices that
 * arrive together are sent together, as one summary line, so that a join
 * storm costs each member one line per window instead of one per join (5,000
 * clients joining one by one would otherwise be 12.5 million notices).
 *
 * In a room of at most `roomLimit` members on this replica every notice is
 * passed on as it is (`* bob joined`), exactly as the old service sent them.
 * Above it, a notice after a quiet spell is still passed on at once, and
 * opens a window of `windowMs`. Notices arriving during the window are
 * counted; when it ends they go out as one line: the notice itself if there
 * was one, else a summary such as `* 37 people joined, 12 left` (JSON: a
 * `presence` notice carrying the counts). A window that summarised something
 * opens the next one, so a steady storm is one line per window; a window that
 * saw nothing closes and leaves no timer behind.
 *
 * It does not know the members or deliver anything itself: the hub asks it
 * about each notice and hands it the frames to deliver.
 *
 * @module
 */

import type { Notice } from "../protocol/model.ts";
import { Frame } from "./frame.ts";

/** Options for {@linkcode NoticeSummary}. */
export interface NoticeSummaryOptions {
  /** Members on this replica above which notices are summarised. */
  roomLimit: number;
  /** How long notices are gathered into one summary, in milliseconds; defaults to 1,000. */
  windowMs?: number;
  /** Hands a frame to every member, as the hub does with an event. */
  deliver: (frame: Frame) => void;
}

/**
 * The line of a summary, without the `* ` of a notice.
 *
 * @example
 * ```ts
 * summaryText(37, 12); // "37 people joined, 12 left"
 * summaryText(1, 0); // "1 person joined"
 * summaryText(0, 2); // "2 people left"
 * ```
 */
export function summaryText(joined: number, left: number): string {
  const people = (n: number) => `${n} ${n === 1 ? "person" : "people"}`;
  if (left === 0) return `${people(joined)} joined`;
  if (joined === 0) return `${people(left)} left`;
  return `${people(joined)} joined, ${left} left`;
}

/** Gathers the notices of a big room into one line per window. */
export class NoticeSummary {
  readonly #roomLimit: number;
  readonly #windowMs: number;
  readonly #deliver: (frame: Frame) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #joined = 0;
  #left = 0;
  /** The one notice of the window so far, sent as it is if no other comes. */
  #only: Notice | undefined;
  #closed = false;

  constructor(options: NoticeSummaryOptions) {
    this.#roomLimit = options.roomLimit;
    this.#windowMs = options.windowMs ?? 1_000;
    this.#deliver = options.deliver;
  }

  /**
   * Offers `notice` for a room of `members`. Returns `true` when it is held
   * for the window's summary, `false` when the caller delivers it now, as it is.
   */
  hold(notice: Notice, members: number): boolean {
    if (this.#closed) return false;
    if (this.#timer === undefined) {
      if (members > this.#roomLimit) this.#open();
      return false;
    }
    // Counted even if the room shrank meanwhile: the summary keeps notices in order.
    if (notice.type === "join") this.#joined++;
    else this.#left++;
    this.#only = this.#joined + this.#left === 1 ? notice : undefined;
    return true;
  }

  /** Drops what is held and stops the window's timer; later notices are not held. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #open(): void {
    this.#timer = setTimeout(() => this.#end(), this.#windowMs);
  }

  #end(): void {
    this.#timer = undefined;
    const joined = this.#joined;
    const left = this.#left;
    if (joined + left === 0) return;
    const only = this.#only;
    this.#joined = 0;
    this.#left = 0;
    this.#only = undefined;
    this.#open();
    if (only) return this.#deliver(Frame.of(only));
    const text = summaryText(joined, left);
    this.#deliver(Frame.composed((by) => by.notice("presence", text, { joined, left })));
  }
}
