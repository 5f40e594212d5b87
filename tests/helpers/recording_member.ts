/**
 * A hub member that records what it is given: the whole interface the hub
 * talks to, for tests of the hub and of what it composes.
 *
 * @module
 */

import type { Frame, FrameRun } from "../../lib/server/frame.ts";
import type { Member } from "../../lib/server/hub.ts";
import type { ChatEvent } from "../../lib/protocol/model.ts";
import { textDialect } from "../../lib/protocol/text_dialect.ts";

const decoder = new TextDecoder();

/** Keeps every frame delivered, measured in text-mode bytes. */
export class RecordingMember implements Member {
  readonly frames: Frame[] = [];
  /** The runs delivered as one. */
  readonly runs: FrameRun[] = [];

  measure(frame: Frame): number {
    return frame.bytes(textDialect).length;
  }

  deliver(frame: Frame): void {
    this.frames.push(frame);
  }

  /** Keeps the run's frames, and the run itself in {@linkcode runs}. */
  deliverRun(run: FrameRun): void {
    this.runs.push(run);
    this.frames.push(...run.frames);
  }

  /** The room events delivered, leaving out lines the hub composed. */
  get events(): ChatEvent[] {
    return this.frames.flatMap((frame) => frame.event ? [frame.event] : []);
  }

  /** Every frame as its text-mode line, without the line break. */
  get lines(): string[] {
    return this.frames.map((frame) => decoder.decode(frame.bytes(textDialect)).trimEnd());
  }
}
