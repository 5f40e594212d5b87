/**
 * The hub: fans every event from the store's subscription out to the
 * sessions of this process, and joins newcomers without a gap.
 *
 * Each event is wrapped once in a {@linkcode Frame} whose encodings are made
 * on first use and then shared by every recipient; the hub itself knows no
 * protocol. A joining session is
 * registered as buffering before its history is read; once the history (up
 * to id H) is written, buffered messages above H are delivered and the
 * session goes live, so it sees every message exactly once. The hub never
 * waits for a session: delivery only queues. Events dispatched in one turn of
 * the event loop (a stored batch arrives as one) go out at the end of that
 * turn as one {@linkcode FrameRun}, so a member queues one array for the lot.
 * In a big room, join and leave notices that arrive together are delivered
 * as one summary (see `notice_summary.ts`).
 *
 * @module
 */

import type { HistorySnapshot } from "../store/store.ts";
import type { ChatEvent } from "../protocol/model.ts";
import { Frame, FrameRun } from "./frame.ts";
import { NoticeSummary } from "./notice_summary.ts";

/** A session as the hub sees it. */
export interface Member {
  /** The bytes this member would be sent for `frame`: a joining member's buffer is counted in them. */
  measure(frame: Frame): number;
  /** Takes one live event. Must not block; a slow member drops itself. */
  deliver(frame: Frame): void;
  /** Takes several live events, in order, as {@linkcode deliver} would one by one. */
  deliverRun(run: FrameRun): void;
}

/** Raised by {@linkcode Hub.join} when live events outgrew the joiner's limit. */
export class SlowJoinError extends Error {
  constructor(limitBytes: number) {
    super(`more than ${limitBytes} bytes of new messages arrived while the history was sent`);
    this.name = "SlowJoinError";
  }
}

interface Buffer {
  frames: Frame[];
  bytes: number;
  overflow: boolean;
}

/** Options for {@linkcode Hub}. */
export interface HubOptions {
  /** Members above which join and leave notices are summarised; by default never. */
  noticeRoomLimit?: number;
  /** How long notices are gathered into one summary, in milliseconds (see `notice_summary.ts`). */
  noticeWindowMs?: number;
}

/** Delivers events to the members of this process. */
export class Hub {
  readonly #live = new Set<Member>();
  readonly #joining = new Map<Member, Buffer>();
  readonly #bufferLimitBytes: number;
  readonly #notices: NoticeSummary | undefined;
  /** Frames dispatched in this turn, not yet delivered. */
  #pending: Frame[] = [];

  /** @param bufferLimitBytes Most bytes buffered for one joining member. */
  constructor(bufferLimitBytes: number, options: HubOptions = {}) {
    this.#bufferLimitBytes = bufferLimitBytes;
    const { noticeRoomLimit = Infinity, noticeWindowMs } = options;
    this.#notices = noticeRoomLimit === Infinity ? undefined : new NoticeSummary({
      roomLimit: noticeRoomLimit,
      windowMs: noticeWindowMs,
      // From a timer: what was dispatched before it has gone out at the end of its own turn.
      deliver: (frame) => this.#send([frame]),
    });
  }

  /** Members that are live or joining. */
  get size(): number {
    return this.#live.size + this.#joining.size;
  }

  /**
   * Hands one event to every member at the end of this turn of the event
   * loop, in one run with every other event dispatched in it. Give this to
   * `Store.subscribe`.
   */
  dispatch(event: ChatEvent): void {
    if (event.type !== "message" && this.#notices?.hold(event, this.size)) return;
    this.#pending.push(Frame.of(event));
    if (this.#pending.length === 1) queueMicrotask(() => this.#deliverPending());
  }

  /** Drops notices held for a summary; later ones are delivered as they come. */
  close(): void {
    this.#notices?.close();
  }

  /** Delivers what was dispatched in this turn and not yet delivered. */
  #deliverPending(): void {
    if (this.#pending.length === 0) return;
    const frames = this.#pending;
    this.#pending = [];
    this.#send(frames);
  }

  #send(frames: Frame[]): void {
    const run = frames.length === 1 ? undefined : new FrameRun(frames);
    for (const member of this.#live) {
      if (run) member.deliverRun(run);
      else member.deliver(frames[0]);
    }
    for (const [member, buffer] of this.#joining) {
      for (const frame of frames) {
        if (buffer.overflow) break;
        buffer.bytes += member.measure(frame);
        if (buffer.bytes > this.#bufferLimitBytes) {
          buffer.overflow = true;
          buffer.frames = [];
        } else {
          buffer.frames.push(frame);
        }
      }
    }
  }

  /**
   * Joins `member`: buffers live events, reads the history with `load`,
   * writes it with `send`, then delivers the buffered events newer than the
   * history and makes the member live.
   *
   * @throws whatever `load` or `send` throws, or {@linkcode SlowJoinError};
   * the member is then not registered.
   */
  async join(
    member: Member,
    load: () => Promise<HistorySnapshot>,
    send: (snapshot: HistorySnapshot) => Promise<void>,
  ): Promise<void> {
    const buffer: Buffer = { frames: [], bytes: 0, overflow: false };
    this.#joining.set(member, buffer);
    try {
      const snapshot = await load();
      if (buffer.overflow) throw new SlowJoinError(this.#bufferLimitBytes);
      await send(snapshot);
      // No await from here on: nothing can be delivered in between. What was
      // dispatched but not yet delivered goes to the buffer, to be checked below.
      this.#deliverPending();
      if (buffer.overflow) throw new SlowJoinError(this.#bufferLimitBytes);
      // It left while joining: do not bring it back.
      if (!this.#joining.has(member)) return;
      for (const frame of buffer.frames) {
        const { event } = frame;
        if (event?.type === "message" && event.id <= snapshot.lastId) continue;
        member.deliver(frame);
      }
      this.#live.add(member);
    } finally {
      this.#joining.delete(member);
    }
  }

  /** Stops delivering to `member`. */
  leave(member: Member): void {
    this.#live.delete(member);
    this.#joining.delete(member);
  }
}
