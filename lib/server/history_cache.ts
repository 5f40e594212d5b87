/**
 * This replica's copy of the newest history, kept as it is sent: each entry
 * encoded once per dialect, so that a join the cache covers reads nothing
 * from the store and is answered with one write of ready bytes.
 *
 * It is primed once from the store and then fed by the store's subscription,
 * before the hub dispatches the same event: it holds exactly the messages
 * this replica has delivered, in id order. A join takes its snapshot while
 * the hub buffers live events for it, so the join stays gapless (see
 * `hub.ts`). When the copy cannot be trusted to equal the store's newest
 * entries (ids skipped, priming failed) it starts over from the next message
 * and covers only what it has seen since; joins it does not cover read the
 * store as before.
 *
 * It keeps no more than its entry and byte limits, and does not read the
 * store itself (`chat_server.ts` primes it).
 *
 * @module
 */

import type { ChatEvent, HistoryEntry } from "../protocol/model.ts";
import type { Dialect } from "../protocol/dialect.ts";
import type { HistorySnapshot } from "../store/store.ts";
import { concat } from "../util/bytes.ts";

/** A join's history from the cache: its lines and the end line, ready to write. */
export interface CachedHistory {
  /** Every history line and the history end, in `dialect`'s encoding. */
  bytes: Uint8Array;
  /** The newest message id the history covers. */
  lastId: number;
}

/** Options for {@linkcode HistoryCache}. */
export interface HistoryCacheOptions {
  /** Most entries kept: the newest entries a join is sent (`HISTORY_REPLAY`). */
  maxEntries: number;
  /**
   * Most bytes kept: message text plus its lines, counted for each of
   * `dialects` (at least one). Defaults to 8 MiB (10,000 lines of 64 bytes
   * in two dialects count about 5 MiB).
   */
  maxBytes?: number;
  /**
   * Dialects whose answer to a fresh join is encoded when priming ends, so
   * that even the first join is one write. Lines are otherwise encoded when
   * a join first needs them (never for a message nobody joins after).
   */
  dialects?: readonly Dialect[];
}

const encoder = new TextEncoder();

/** One entry with its lines, each encoded on first use. */
class CachedEntry {
  readonly entry: HistoryEntry;
  /** Its text and the lines it is expected to be encoded to. */
  readonly size: number;
  /** Made on first use: most entries are never encoded. */
  #lines: Map<Dialect, Uint8Array> | undefined;

  /** `encodings`: how many encodings of it to count in its size. */
  constructor(entry: HistoryEntry, encodings: number) {
    this.entry = entry;
    const text = entry.type === "message"
      ? entry.user.length + entry.text.length
      : entry.line.length;
    // A line is its text plus at most about 64 bytes of framing (ids, field names).
    this.size = text + encodings * (text + 64);
  }

  line(dialect: Dialect): Uint8Array {
    this.#lines ??= new Map();
    let bytes = this.#lines.get(dialect);
    if (bytes === undefined) {
      this.#lines.set(dialect, bytes = encoder.encode(`${dialect.history(this.entry)}\n`));
    }
    return bytes;
  }
}

/** The newest history of this replica, encoded for sending. */
export class HistoryCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #dialects: readonly Dialect[];
  /** Oldest first; `#start` entries at the front are already dropped. */
  #entries: CachedEntry[] = [];
  #start = 0;
  #bytes = 0;
  /** The newest message id seen (or the primed snapshot's). */
  #lastId = 0;
  /** Whether the store holds no entry older than the cache's oldest. */
  #whole = false;
  /** Whether the cache may answer at all: primed, or started over. */
  #ready = false;
  /** Messages seen before priming, merged in when it is primed. */
  #early: HistoryEntry[] | null = [];
  /** Each dialect's last answer to a fresh join, reused until the cache changes. */
  #blocks = new Map<Dialect, { count: number; history: CachedHistory }>();

  constructor(options: HistoryCacheOptions) {
    this.#maxEntries = options.maxEntries;
    this.#maxBytes = options.maxBytes ?? 8 << 20;
    this.#dialects = options.dialects ?? [];
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.length - this.#start;
  }

  /**
   * Starts the cache from a store snapshot of the newest `maxEntries`
   * entries, read after the subscription was live; messages recorded
   * meanwhile and newer than the snapshot are added after it.
   */
  prime(snapshot: Pick<HistorySnapshot, "entries" | "lastId">): void {
    const early = this.#early ?? [];
    this.#early = null;
    this.#ready = true;
    this.#whole = snapshot.entries.length < this.#maxEntries;
    this.#lastId = snapshot.lastId;
    for (const entry of snapshot.entries) this.#add(entry);
    for (const entry of early) this.record({ origin: "", ...entry } as ChatEvent);
    for (const dialect of this.#dialects) this.read(dialect, this.#maxEntries);
  }

  /** The store could not be read: the cache starts over from the next message. */
  primeFailed(): void {
    this.#early = null;
  }

  /** Takes one event from the subscription; only messages are history. */
  record(event: ChatEvent): void {
    if (event.type !== "message") return;
    const { origin: _, ...entry } = event;
    if (this.#early) {
      this.#early.push(entry);
      return;
    }
    if (this.#ready && event.id <= this.#lastId) return;
    if (!this.#ready || event.id !== this.#lastId + 1) this.#startOver();
    this.#lastId = event.id;
    this.#add(entry);
  }

  /**
   * The history a join is sent, or `null` when the cache does not cover it
   * (then the store is read). A fresh join (`since` undefined) gets the
   * newest `limit` entries; a resume gets every message newer than `since`.
   */
  read(dialect: Dialect, limit: number, since?: number): CachedHistory | null {
    if (!this.#ready) return null;
    const size = this.size;
    if (since === undefined) {
      if (size < limit && !this.#whole) return null;
      const count = Math.min(limit, size);
      const block = this.#blocks.get(dialect);
      if (block?.count === count) return block.history;
      const history = this.#encode(dialect, this.#entries.length - count);
      this.#blocks.set(dialect, { count, history });
      return history;
    }
    const oldest = this.#oldestMessageId();
    if (!this.#whole && (oldest === null || since < oldest - 1)) return null;
    let from = this.#entries.length;
    while (from > this.#start) {
      const { entry } = this.#entries[from - 1];
      if (entry.type === "message" && entry.id <= since) break;
      from--;
    }
    return this.#encode(dialect, from, since);
  }

  #encode(dialect: Dialect, from: number, since?: number): CachedHistory {
    const lines: Uint8Array[] = [];
    for (let i = from; i < this.#entries.length; i++) {
      const cached = this.#entries[i];
      // A resume is sent messages only, as the store's path sends it.
      if (since !== undefined && cached.entry.type !== "message") continue;
      lines.push(cached.line(dialect));
    }
    lines.push(encoder.encode(`${dialect.historyEnd(this.#lastId)}\n`));
    return { bytes: concat(lines), lastId: this.#lastId };
  }

  #oldestMessageId(): number | null {
    for (let i = this.#start; i < this.#entries.length; i++) {
      const { entry } = this.#entries[i];
      if (entry.type === "message") return entry.id;
    }
    return null;
  }

  #add(entry: HistoryEntry): void {
    const cached = new CachedEntry(entry, Math.max(1, this.#dialects.length));
    this.#entries.push(cached);
    this.#bytes += cached.size;
    this.#blocks.clear();
    while (this.size > this.#maxEntries || (this.#bytes > this.#maxBytes && this.size > 0)) {
      this.#bytes -= this.#entries[this.#start++].size;
      this.#whole = false;
    }
    // Drop the front for real once it is as long as what is kept.
    if (this.#start > 1024 && this.#start >= this.size) {
      this.#entries = this.#entries.slice(this.#start);
      this.#start = 0;
    }
  }

  #startOver(): void {
    this.#entries = [];
    this.#start = 0;
    this.#bytes = 0;
    this.#whole = false;
    this.#ready = true;
    this.#blocks.clear();
  }
}
