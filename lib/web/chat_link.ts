/// <reference lib="dom" />
/**
 * The page's connection to the chat: a WebSocket speaking the JSON protocol
 * (one event per frame), reconnected with backoff when it drops, resumed
 * with `since`, the history's `epoch` and the session's resume `token` so
 * that no message is missed or shown twice and the name is taken back at
 * once even from a server that crashed, and the messages sent matched to
 * their receipts by `ref`. A registered name's password rides in every
 * hello; it is kept in memory only, by the caller.
 *
 * A message whose receipt had not come when the connection dropped is looked
 * for in the resumed history; it is sent again only if it is not there.
 *
 * It does not touch the document: the page renders what it reports.
 *
 * @module
 */

import { backoffDelay } from "../util/backoff.ts";
import { isPermanentRefusal } from "../protocol/errors.ts";
import {
  type ClientRequest,
  parseServerEvent,
  type ServerEvent,
  type ServerMessage,
} from "../protocol/server_events.ts";

/** The connection's state, as the page shows it. */
export type LinkState =
  | { kind: "connecting" }
  | { kind: "online" }
  | { kind: "waiting"; seconds: number; reason: string }
  | { kind: "stopped"; reason: string; code: string };

/** Where a link resumes: the newest message shown, its history's epoch, the last session's token. */
export interface ResumePoint {
  /** The id of the newest message shown (0 for none). */
  lastId: number;
  epoch?: string;
  token?: string;
}

/** What the link reports to the page. */
export interface LinkHandlers {
  /** A message to show; never one shown before (ids only grow). */
  message(message: ServerMessage, live: boolean): void;
  /** Someone joined or left, or the list of who is online arrived. */
  presence(event: Extract<ServerEvent, { type: "join" | "leave" | "who" }>): void;
  /** A message sent from here was refused; its text, to be offered again. */
  refused(text: string, reason: string): void;
  /** A line for the notice area (old-service entries, non-fatal errors). */
  notice(text: string): void;
  /** The server lost the history shown so far: what follows is the history afresh. */
  reset(text: string): void;
  state(state: LinkState): void;
}

/**
 * Whether trying again with the same hello cannot help: a bad hello or name,
 * or a password missing or wrong, or throttled (the user retries it).
 */
function final(code: string): boolean {
  return isPermanentRefusal(code) || code === "auth_throttled";
}

/**
 * One user's link to the room.
 *
 * @example
 * ```ts
 * const link = new ChatLink("ws://localhost:8000/ws", "alice", { lastId: 0 }, handlers);
 * link.start();
 * link.send("hello"); // false when not connected: the page keeps the line
 * ```
 */
export class ChatLink {
  readonly #url: string;
  readonly #user: string;
  readonly #handlers: LinkHandlers;
  /** Sent, no receipt yet: ref -> text. */
  readonly #pending = new Map<string, string>();
  readonly #password: string | undefined;
  #resume: ResumePoint;
  #socket: WebSocket | null = null;
  #joined = false;
  #attempt = 0;
  #counter = 0;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `resume`: where the messages already shown end (`{ lastId: 0 }` for
   * none); `password`: the name's, when it is registered.
   */
  constructor(
    url: string,
    user: string,
    resume: ResumePoint,
    handlers: LinkHandlers,
    password?: string,
  ) {
    this.#url = url;
    this.#user = user;
    this.#resume = { ...resume };
    this.#handlers = handlers;
    this.#password = password;
  }

  /** Where the next connection resumes. */
  get resume(): ResumePoint {
    return { ...this.#resume };
  }

  /** Connects, and keeps reconnecting until {@linkcode stop}. */
  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  /** Closes the link for good. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1000);
  }

  /** Sends a message; false (and nothing sent) while not joined. */
  send(text: string): boolean {
    if (!this.#joined || this.#socket?.readyState !== WebSocket.OPEN) return false;
    const ref = `w${Date.now().toString(36)}.${++this.#counter}`;
    this.#pending.set(ref, text);
    this.#request({ type: "message", text, ref });
    return true;
  }

  #hello(): ClientRequest {
    const { lastId, epoch, token } = this.#resume;
    const hello: Extract<ClientRequest, { type: "hello" }> = { type: "hello", user: this.#user };
    if (lastId > 0) {
      hello.since = lastId;
      if (epoch !== undefined) hello.epoch = epoch;
    }
    if (token !== undefined) hello.token = token;
    if (this.#password !== undefined) hello.password = this.#password;
    return hello;
  }

  #request(request: ClientRequest): void {
    this.#socket?.send(JSON.stringify(request));
  }

  #connect(): void {
    this.#handlers.state({ kind: "connecting" });
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    let stopReason: { reason: string; code: string } | null = null;
    socket.onopen = () => this.#request(this.#hello());
    socket.onmessage = (frame) => {
      const event = typeof frame.data === "string" ? parseServerEvent(frame.data) : null;
      if (event?.type === "error" && event.fatal) {
        stopReason = { reason: event.text, code: event.code };
      } else if (event?.type === "notice" && event.code === "shutdown") {
        // The drop that follows reports it.
        stopReason = { reason: event.text, code: event.code };
      } else if (event) {
        this.#receive(event);
      }
    };
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#joined = false;
      if (this.#stopped) return;
      const why = stopReason ?? { reason: "connection lost", code: "closed" };
      // A fresh join with a taken name is the user's to fix; while resuming
      // it is our own old connection, not yet noticed gone.
      const resuming = this.#resume.lastId > 0 || this.#resume.token !== undefined;
      if (final(why.code) || (why.code === "name_taken" && !resuming)) {
        this.#stopped = true;
        this.#handlers.state({ kind: "stopped", ...why });
        return;
      }
      const delay = backoffDelay(++this.#attempt, { initialMs: 500, maxMs: 10_000 });
      this.#handlers.state({ kind: "waiting", seconds: Math.ceil(delay / 1000), ...why });
      this.#timer = setTimeout(() => this.#connect(), delay);
    };
  }

  #receive(event: ServerEvent): void {
    switch (event.type) {
      case "message":
        if (event.ref !== undefined && event.user === this.#user) this.#pending.delete(event.ref);
        if (event.id <= this.#resume.lastId) return;
        this.#resume.lastId = event.id;
        this.#handlers.message(event, this.#joined);
        return;
      case "history_end":
        this.#resume = {
          lastId: Math.max(this.#resume.lastId, event.id),
          epoch: event.epoch ?? this.#resume.epoch,
          token: event.token ?? this.#resume.token,
        };
        this.#joined = true;
        this.#attempt = 0;
        this.#handlers.state({ kind: "online" });
        this.#request({ type: "who" });
        // Whatever is still pending was not in the history: it was not stored.
        for (const [ref, text] of this.#pending) this.#request({ type: "message", text, ref });
        return;
      case "error": {
        const text = event.ref === undefined ? undefined : this.#pending.get(event.ref);
        if (text === undefined) return this.#handlers.notice(event.text);
        this.#pending.delete(event.ref!);
        this.#handlers.refused(text, event.text);
        return;
      }
      case "notice":
        if (event.code !== "history_reset") return this.#handlers.notice(event.text);
        // The ids shown belong to a lost history: every id replayed next is new.
        this.#resume.lastId = 0;
        return this.#handlers.reset(event.text);
      case "legacy":
        return this.#handlers.notice(event.text);
      case "join":
      case "leave":
      case "who":
        return this.#handlers.presence(event);
    }
  }
}
