/// <reference lib="dom" />
/**
 * The chat page: a name to join with, then the room: history and live
 * messages with join and leave notices, who is online, a line to type in,
 * and the connection's state. Served by the chat server's web port and
 * bundled by `deno task bundle`.
 *
 * Every text from the network is put into the page with `textContent`,
 * never as markup. The tab's `sessionStorage` keeps the name, the newest
 * message id and the messages shown, so that a reload shows them again and
 * resumes after them with `since`.
 *
 * @module
 */

import { ChatLink, type LinkState } from "./chat_link.ts";
import type { ServerMessage } from "../protocol/server_events.ts";
import { MessageLog, PresenceList } from "./view.ts";

/** The messages kept for a reload, at most. */
const KEPT = 200;
const STORAGE_KEY = "chat.session";

interface Saved {
  user: string;
  lastId: number;
  messages: ServerMessage[];
}

function element<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

function load(): Saved | null {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
    if (typeof saved?.user === "string" && Number.isSafeInteger(saved.lastId)) return saved;
  } catch {
    // Unreadable: start over.
  }
  return null;
}

const joinForm = element<HTMLFormElement>("join");
const nameInput = element<HTMLInputElement>("name");
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

function enter(saved: Saved): void {
  joinForm.hidden = true;
  room.hidden = false;
  const messages = [...saved.messages];
  for (const message of messages) log.message(message, saved.user, false);
  const save = () =>
    sessionStorage.setItem(
      STORAGE_KEY,
      JSON.stringify({ user: saved.user, lastId: link.lastId, messages: messages.slice(-KEPT) }),
    );
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const link = new ChatLink(url, saved.user, saved.lastId, {
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
    state(state) {
      showState(state);
      if (state.kind === "online") online.add(saved.user);
      if (state.kind === "stopped") {
        sessionStorage.removeItem(STORAGE_KEY);
        room.hidden = true;
        joinForm.hidden = false;
        joinError.textContent = state.reason;
        nameInput.focus();
      }
    },
  });
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

joinForm.onsubmit = (event) => {
  event.preventDefault();
  const user = nameInput.value.trim();
  if (user === "") return;
  joinError.textContent = "";
  log.clear();
  online.set([]);
  enter({ user, lastId: 0, messages: [] });
};

const saved = load();
if (saved) enter(saved);
else nameInput.focus();
