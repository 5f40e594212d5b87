/// <reference lib="dom" />
/**
 * The chat page: a name to join with, then the room: history and live
 * messages with join and leave notices, who is online, a line to type in,
 * and the connection's state. Served by the chat server's web port and
 * bundled by `deno task bundle`.
 *
 * Every text from the network is put into the page with `textContent`,
 * never as markup. The tab's `sessionStorage` keeps the name, the resume
 * point (newest message id, the history's epoch, the resume token) and the
 * messages shown, so that a reload shows them again and resumes after them.
 *
 * A registered name's password is typed into the join form and kept only in
 * the link's memory, to be sent again on reconnecting; it is never stored,
 * so after a reload the page asks for it again (and then resumes).
 *
 * @module
 */

import { ChatLink, type LinkState, type ResumePoint } from "./chat_link.ts";
import type { ServerMessage } from "../protocol/server_events.ts";
import { MessageLog, PresenceList } from "./view.ts";

/** The messages kept for a reload, at most. */
const KEPT = 200;
const STORAGE_KEY = "chat.session";

interface Saved extends ResumePoint {
  user: string;
  messages: ServerMessage[];
}

/** What the join form says after a refusal about the password; other refusals show the server's text. */
const AUTH_PROMPTS: Readonly<Record<string, string>> = {
  auth_required: "This name is registered: enter its password to join.",
  auth_failed: "Wrong password for this name; try again.",
};

function element<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

function load(): Saved | null {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
    if (
      typeof saved?.user === "string" && Number.isSafeInteger(saved.lastId) &&
      Array.isArray(saved.messages)
    ) return saved;
  } catch {
    // Unreadable: start over.
  }
  return null;
}

const joinForm = element<HTMLFormElement>("join");
const nameInput = element<HTMLInputElement>("name");
const passwordInput = element<HTMLInputElement>("password");
const joinError = element<HTMLParagraphElement>("join-error");
const room = element<HTMLElement>("room");
const stateLine = element<HTMLParagraphElement>("state");
const composeForm = element<HTMLFormElement>("compose");
const textInput = element<HTMLInputElement>("text");
const log = new MessageLog(element("log"));
const online = new PresenceList(element("who"), element("who-count"));

function showState(state: LinkState): void {
  const text = {
    connecting: () => "Connecting…",
    online: () => "Connected",
    waiting: () =>
      `Disconnected (${state.kind === "waiting" ? state.reason : ""}); retrying in ${
        state.kind === "waiting" ? state.seconds : 0
      } s`,
    stopped: () => `Disconnected: ${state.kind === "stopped" ? state.reason : ""}`,
  }[state.kind]();
  stateLine.textContent = text;
  stateLine.dataset.state = state.kind;
  composeForm.setAttribute("aria-disabled", String(state.kind !== "online"));
}

/** Shows the room and connects as `saved.user`, resuming after `saved`'s messages. */
function enter(saved: Saved, password: string | undefined): void {
  joinForm.hidden = true;
  room.hidden = false;
  log.clear();
  online.set([]);
  const messages = [...saved.messages];
  for (const message of messages) log.message(message, saved.user, false);
  const save = () => {
    const point: Saved = { user: saved.user, ...link.resume, messages: messages.slice(-KEPT) };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(point));
  };
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const { lastId, epoch, token } = saved;
  const link = new ChatLink(url, saved.user, { lastId, epoch, token }, {
    message(message, live) {
      log.message(message, saved.user, live);
      messages.push(message);
      if (messages.length > KEPT * 2) messages.splice(0, messages.length - KEPT);
      save();
    },
    presence(event) {
      if (event.type === "who") return online.set([...event.users, saved.user]);
      if (event.type === "join") online.add(event.user);
      else online.remove(event.user);
      log.notice(`${event.user} ${event.type === "join" ? "joined" : "left"}`, event.ts);
    },
    refused(text, reason) {
      log.notice(`Not sent: ${reason}`);
      // Offer the line again without overwriting what is being typed.
      if (textInput.value === "") textInput.value = text;
    },
    notice: (text) => log.notice(text),
    reset() {
      messages.length = 0;
      log.clear();
      log.notice(
        "History was reset on the server (it lost the messages shown before); showing it afresh.",
        Date.now(),
        true,
      );
      save();
    },
    state(state) {
      showState(state);
      if (state.kind === "online") {
        online.add(saved.user);
        // A new resume token comes with every join.
        save();
      }
      if (state.kind === "stopped") leave(saved.user, state);
    },
  }, password);
  save();
  composeForm.onsubmit = (event) => {
    event.preventDefault();
    const text = textInput.value.trim();
    if (text === "") return;
    // The line stays in the field when it could not be sent.
    if (link.send(text)) textInput.value = "";
    else log.notice("Not connected: the message is kept; send it again once connected.");
  };
  link.start();
  textInput.focus();
}

/**
 * Back to the join form after a refusal. A refused password keeps the tab's
 * saved session, so that joining again with the password resumes it.
 */
function leave(user: string, state: Extract<LinkState, { kind: "stopped" }>): void {
  room.hidden = true;
  joinForm.hidden = false;
  nameInput.value = user;
  if (state.code.startsWith("auth_")) {
    joinError.textContent = AUTH_PROMPTS[state.code] ?? state.reason;
    passwordInput.focus();
  } else {
    sessionStorage.removeItem(STORAGE_KEY);
    joinError.textContent = state.reason;
    nameInput.focus();
  }
}

joinForm.onsubmit = (event) => {
  event.preventDefault();
  const user = nameInput.value.trim();
  if (user === "") return;
  // The field is emptied at once: the password lives on only in the link.
  const password = passwordInput.value === "" ? undefined : passwordInput.value;
  passwordInput.value = "";
  joinError.textContent = "";
  const saved = load();
  enter(saved?.user === user ? saved : { user, lastId: 0, messages: [] }, password);
};

const saved = load();
if (saved) enter(saved, undefined);
else nameInput.focus();
