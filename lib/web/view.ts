/// <reference lib="dom" />
/**
 * What the chat page shows: the message log (messages with a time, a name
 * in the user's own colour, notices set apart, one's own messages marked)
 * and the list of who is online.
 *
 * Every text from the network is set with `textContent`, never parsed as
 * markup, and sanitised first (control and bidi characters removed). It
 * knows nothing of the connection.
 *
 * @module
 */

import type { ServerMessage } from "../protocol/server_events.ts";
import { sanitize } from "../util/sanitize.ts";

/** Entries the log keeps in the page; older ones are removed. */
const MAX_ENTRIES = 1000;

/** A hue from the name, so that one user always has one colour. */
export function userHue(user: string): number {
  let hash = 2166136261;
  for (const char of user) hash = Math.imul(hash ^ char.codePointAt(0)!, 16777619);
  return (hash >>> 0) % 360;
}

function span(className: string, text: string): HTMLSpanElement {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = sanitize(text);
  return element;
}

function time(ts: number): HTMLTimeElement {
  const element = document.createElement("time");
  const date = new Date(ts);
  element.dateTime = date.toISOString();
  element.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  element.title = date.toLocaleString();
  return element;
}

/** The list of messages and notices, newest last, announced as they come. */
export class MessageLog {
  readonly #list: HTMLElement;

  constructor(list: HTMLElement) {
    this.#list = list;
  }

  /** Adds a message; `own` ones (sent under `me`) look different. */
  message(message: ServerMessage, me: string, live: boolean): void {
    const item = document.createElement("li");
    item.className = message.user === me ? "message own" : "message";
    item.dataset.id = String(message.id);
    if (!live) item.classList.add("history");
    const name = span("user", message.user);
    name.style.setProperty("--hue", String(userHue(message.user)));
    item.append(time(message.ts), " ", name, " ", span("text", message.text));
    this.#add(item);
  }

  /** Adds a notice (someone joined or left, an error); a `warning` stands out. */
  notice(text: string, ts: number = Date.now(), warning = false): void {
    const item = document.createElement("li");
    item.className = warning ? "notice warning" : "notice";
    item.append(time(ts), " ", span("text", text));
    this.#add(item);
  }

  /** Removes every entry. */
  clear(): void {
    this.#list.replaceChildren();
  }

  #add(item: HTMLLIElement): void {
    const list = this.#list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(item);
    while (list.childElementCount > MAX_ENTRIES) list.firstElementChild!.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
}

/** Who is online, sorted, with a count. */
export class PresenceList {
  readonly #list: HTMLElement;
  readonly #count: HTMLElement;
  readonly #users = new Set<string>();

  constructor(list: HTMLElement, count: HTMLElement) {
    this.#list = list;
    this.#count = count;
  }

  /** Replaces the whole list. */
  set(users: readonly string[]): void {
    this.#users.clear();
    for (const user of users) this.#users.add(user);
    this.#render();
  }

  add(user: string): void {
    this.#users.add(user);
    this.#render();
  }

  remove(user: string): void {
    this.#users.delete(user);
    this.#render();
  }

  #render(): void {
    const items = [...this.#users].sort().map((user) => {
      const item = document.createElement("li");
      const name = span("user", user);
      name.style.setProperty("--hue", String(userHue(user)));
      item.append(name);
      return item;
    });
    this.#list.replaceChildren(...items);
    this.#count.textContent = String(this.#users.size);
  }
}
