/**
 * What a session posts to the room through the store: a client's message,
 * and its join and leave announcements. A failure is logged and counted
 * here and never thrown: for a message the caller hears `false` and tells
 * the client in its dialect; a lost announcement is only logged.
 *
 * It does not decide what may be posted (rate limits, line limits and
 * parsing are the session's) and does not wait for appends in flight (see
 * `append_pipeline.ts`).
 *
 * @module
 */

import type { Logger } from "../ops/log.ts";
import type { ServerMetrics } from "../ops/chat_metrics.ts";
import type { Store } from "../store/store.ts";

/** The server parts a post goes through; a session's options have them. */
export interface PostParts {
  store: Store;
  logger: Logger;
  metrics: ServerMetrics;
}

/** One client message to store. */
export interface Post {
  user: string;
  text: string;
  /** The client's reference for its receipt (JSON mode). */
  ref?: string;
  /** The sending connection (see `session.ts`). */
  origin: string;
}

/**
 * Stores `post`, timing and counting it. Resolves false, after logging,
 * when the store failed; never rejects.
 */
export async function postMessage(parts: PostParts, post: Post, remote: string): Promise<boolean> {
  const { metrics } = parts;
  const started = performance.now();
  try {
    await parts.store.append({
      user: post.user,
      text: post.text,
      ts: Date.now(),
      origin: post.origin,
      ...post.ref === undefined ? {} : { ref: post.ref },
    });
    metrics.storeAppendSeconds.observe((performance.now() - started) / 1000);
    metrics.messagesStored.inc();
    return true;
  } catch (error) {
    metrics.rejected.store_unavailable.inc();
    parts.logger.warn("message not stored", {
      remote,
      user: post.user,
      error: (error as Error).message,
    });
    return false;
  }
}

/** Publishes that `user` joined or left; a failure is logged. Never rejects. */
export async function announce(
  parts: PostParts,
  type: "join" | "leave",
  presence: { user: string; origin: string; remote: string },
): Promise<void> {
  const { user, origin, remote } = presence;
  try {
    await parts.store.publish({ type, user, ts: Date.now(), origin });
  } catch (error) {
    parts.logger.warn(`${type} not announced`, { remote, user, error: (error as Error).message });
  }
}
