/**
 * What lets a JSON client come back after losing its connection, even when
 * its replica crashed: its resume token, which takes its name back from the
 * stale claim at once, and the choice between resuming after `since` and
 * replaying the history afresh because the history was lost (another epoch).
 *
 * A session is given a new token at each join; only the token's SHA-256
 * hash is stored, beside the name's claim, so the token lives as long as
 * that claim: for the session, and at most `PRESENCE_TTL` after its replica
 * stopped refreshing it. A wrong or expired token is answered exactly as a
 * taken name is, so it tells nothing.
 *
 * It does not talk to the client, log or count: the session does.
 *
 * @module
 */

import type { Dialect } from "../protocol/dialect.ts";
import type { HistoryEntry } from "../protocol/model.ts";
import type { HistorySnapshot } from "../store/store.ts";
import { randomId } from "../util/random_id.ts";
import type { Identity } from "./handshake.ts";
import type { Roster } from "./roster.ts";

/** Random bytes in a resume token: 192 bits, past guessing. */
const TOKEN_BYTES = 24;

/** A claimed name: the token to hand out, and whether the name was taken back with one. */
export interface NameClaim {
  /** The client's new resume token; none for a client that cannot resume (text mode). */
  token?: string;
  /** The claim was moved from a stale owner with the client's token. */
  takenBack: boolean;
}

/**
 * The hex SHA-256 of a resume token, as presence stores it.
 *
 * @example
 * ```ts
 * await hashToken("abc"); // "ba7816bf..."
 * ```
 */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Claims the identity's name for the connection `owner`: with its token, if
 * it presented one, taking the name back from a claim that token belongs to.
 *
 * @returns the claim, or null when someone else holds the name.
 * @throws {StoreUnavailableError} when the registry cannot be reached.
 */
export async function claimName(
  roster: Roster,
  identity: Identity,
  owner: string,
  onLost: () => void,
): Promise<NameClaim | null> {
  if (!identity.resumable) {
    return await roster.claim(identity.user, owner, onLost) ? { takenBack: false } : null;
  }
  const token = randomId(TOKEN_BYTES);
  const tokenHash = await hashToken(token);
  if (identity.token === undefined) {
    return await roster.claim(identity.user, owner, onLost, tokenHash)
      ? { token, takenBack: false }
      : null;
  }
  const presented = await hashToken(identity.token);
  const result = await roster.takeOver(identity.user, owner, onLost, presented, tokenHash);
  return result === "held" ? null : { token, takenBack: result === "taken_back" };
}

/** What a client resuming across lost history is told before the fresh replay. */
export const HISTORY_RESET_TEXT =
  "the chat history was reset since you were last here; showing it afresh";

/** What a joining client's history holds. */
export interface Replay {
  /** The entries to consider sending, oldest first. */
  entries: HistoryEntry[];
  /** Send only messages above this id; undefined: all of `entries`. */
  since?: number;
  /** How a coming-back client's join went; undefined for a first join. */
  outcome?: "resumed" | "reset_by_epoch";
}

/**
 * Whether the client resumes after its `since`, or is told that the history
 * was reset and gets the newest `replay` entries afresh: when it names
 * another epoch, or has seen ids this history never had (a store rolled back
 * under the same epoch). Clients that send no epoch resume as they always did.
 */
export function planReplay(identity: Identity, snapshot: HistorySnapshot, replay: number): Replay {
  const { since, epoch } = identity;
  if (since === undefined) return { entries: snapshot.entries };
  if (epoch !== undefined && (epoch !== snapshot.epoch || since > snapshot.lastId)) {
    const entries = replay > 0 ? snapshot.entries.slice(-replay) : [];
    return { entries, outcome: "reset_by_epoch" };
  }
  return { entries: snapshot.entries, since, outcome: "resumed" };
}

/** Most bytes of history lines written at once: big writes, bounded memory. */
const HISTORY_CHUNK_BYTES = 64 * 1024;

/**
 * The history a join is sent, in `dialect`: a `history_reset` notice when
 * the resume crossed a lost history, the lines in chunks of about
 * {@linkcode HISTORY_CHUNK_BYTES}, the last one ending with the history's end
 * (with the epoch and resume `token` for a resumable client); and the resume
 * outcome to count.
 */
export function replayText(
  dialect: Dialect,
  snapshot: HistorySnapshot,
  identity: Identity,
  replayLimit: number,
  token?: string,
): { chunks: string[]; outcome?: Replay["outcome"] } {
  const { entries, since, outcome } = planReplay(identity, snapshot, replayLimit);
  const chunks: string[] = [];
  let piece = outcome === "reset_by_epoch"
    ? `${dialect.notice("history_reset", HISTORY_RESET_TEXT)}\n`
    : "";
  for (const entry of entries) {
    if (since !== undefined && (entry.type !== "message" || entry.id <= since)) continue;
    piece += `${dialect.history(entry)}\n`;
    if (piece.length >= HISTORY_CHUNK_BYTES) {
      chunks.push(piece);
      piece = "";
    }
  }
  const resume = identity.resumable ? { epoch: snapshot.epoch, token } : undefined;
  chunks.push(`${piece}${dialect.historyEnd(snapshot.lastId, resume)}\n`);
  return { chunks, outcome };
}
