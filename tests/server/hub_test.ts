/**
 * The hub: fan-out in dispatch order with one shared encoding per event, and
 * the gapless join (buffer while the history is read and sent, skip what the
 * history already holds, deliver the rest once).
 *
 * Members are plain objects that record what they are given: that is the
 * whole interface the hub talks to.
 */

import assert from "node:assert/strict";
import { Frame } from "../../lib/server/frame.ts";
import { Hub, type Member, SlowJoinError } from "../../lib/server/hub.ts";
import { textDialect } from "../../lib/protocol/text_dialect.ts";
import { jsonDialect } from "../../lib/protocol/json_dialect.ts";
import type { HistorySnapshot } from "../../lib/store/store.ts";
import type { ChatEvent } from "../../lib/protocol/model.ts";
import { RecordingMember } from "../helpers/recording_member.ts";

const decoder = new TextDecoder();

function message(id: number, user = "alice", text = `message ${id}`): ChatEvent {
  return { type: "message", id, user, text, ts: 1_700_000_000_000 + id, origin: `conn-${user}` };
}

function notice(type: "join" | "leave", user: string): ChatEvent {
  return { type, user, ts: 1_700_000_000_000, origin: `conn-${user}` };
}

const EMPTY: HistorySnapshot = { entries: [], lastId: 0, epoch: "e1" };

function snapshotUpTo(lastId: number): HistorySnapshot {
  const entries = [];
  for (let id = 1; id <= lastId; id++) {
    const { user, text, ts } = message(id) as Extract<ChatEvent, { type: "message" }>;
    entries.push({ type: "message" as const, id, user, text, ts });
  }
  return { entries, lastId, epoch: "e1" };
}

/** Joins `member` with an empty history, at once. */
async function joinNow(hub: Hub, member: Member): Promise<void> {
  await hub.join(member, () => Promise.resolve(EMPTY), () => Promise.resolve());
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("every live member gets each event, in dispatch order", async () => {
  const hub = new Hub(1 << 20);
  const members = [new RecordingMember(), new RecordingMember(), new RecordingMember()];
  for (const member of members) await joinNow(hub, member);
  assert.equal(hub.size, 3);
  const events = [
    message(1),
    notice("join", "carol"),
    message(2, "carol", "hi all"),
    message(3, "bob"),
    notice("leave", "carol"),
  ];
  for (const event of events) hub.dispatch(event);
  await settle();
  for (const member of members) assert.deepEqual(member.events, events);
});

Deno.test("every member is handed the same Frame, whose text bytes are encoded once and shared", async () => {
  const hub = new Hub(1 << 20);
  const a = new RecordingMember();
  const b = new RecordingMember();
  await joinNow(hub, a);
  await joinNow(hub, b);
  hub.dispatch(message(1, "alice", "hello"));
  await settle();
  hub.dispatch(notice("join", "carol"));
  await settle();
  assert.equal(a.frames.length, 2);
  for (let i = 0; i < 2; i++) {
    assert.strictEqual(a.frames[i], b.frames[i], "one Frame object per event");
    assert.strictEqual(
      a.frames[i].bytes(textDialect),
      b.frames[i].bytes(textDialect),
      "one Uint8Array per event and dialect",
    );
  }
  assert.equal(decoder.decode(a.frames[0].bytes(textDialect)), "[alice]: hello\n");
  assert.equal(decoder.decode(a.frames[1].bytes(textDialect)), "* carol joined\n");
});

Deno.test("a Frame encodes its event once per dialect, each as one line with a newline", () => {
  const frame = Frame.of(notice("leave", "bob"));
  const text = frame.bytes(textDialect);
  const json = frame.bytes(jsonDialect);
  assert.equal(decoder.decode(text), "* bob left\n");
  assert.deepEqual(JSON.parse(decoder.decode(json)), {
    type: "leave",
    user: "bob",
    ts: 1_700_000_000_000,
  });
  assert.ok(decoder.decode(json).endsWith("}\n"));
  assert.strictEqual(frame.bytes(textDialect), text, "the text encoding is cached");
  assert.strictEqual(frame.bytes(jsonDialect), json, "the JSON encoding is cached");
});

Deno.test("a joining member gets, after its history is sent, every event since except messages the history holds, each once", async () => {
  const hub = new Hub(1 << 20);
  const live = new RecordingMember();
  await joinNow(hub, live);

  const joiner = new RecordingMember();
  const load = Promise.withResolvers<HistorySnapshot>();
  const send = Promise.withResolvers<void>();
  let sentSnapshot: HistorySnapshot | undefined;
  const joined = hub.join(joiner, () => load.promise, (snapshot) => {
    sentSnapshot = snapshot;
    return send.promise;
  });
  assert.equal(hub.size, 2, "a joining member counts");

  // While the history is being read.
  hub.dispatch(message(4));
  hub.dispatch(notice("join", "carol"));
  hub.dispatch(message(5, "carol"));
  const snapshot = snapshotUpTo(6); // the store had already stored 6
  load.resolve(snapshot);
  await settle();
  assert.strictEqual(sentSnapshot, snapshot, "send is given what load returned");

  // While the history is being written.
  hub.dispatch(message(6)); // published after the snapshot was read
  hub.dispatch(message(7, "bob"));
  hub.dispatch(notice("leave", "carol"));
  await settle();
  assert.deepEqual(joiner.frames, [], "nothing is delivered before the history is written");

  send.resolve();
  await joined;
  assert.deepEqual(joiner.events, [
    notice("join", "carol"),
    message(7, "bob"),
    notice("leave", "carol"),
  ]);

  hub.dispatch(message(8));
  await settle();
  assert.deepEqual(joiner.events.at(-1), message(8));
  const ids = joiner.events.flatMap((event) => event.type === "message" ? [event.id] : []);
  assert.deepEqual(ids, [7, 8], "every message above the snapshot, once, in order");

  // The live member saw everything, and the joiner got the very same frames.
  assert.equal(live.frames.length, 7);
  for (const frame of joiner.frames) assert.ok(live.frames.includes(frame));
});

Deno.test("a join with an empty history delivers every message dispatched while it was pending", async () => {
  const hub = new Hub(1 << 20);
  const joiner = new RecordingMember();
  const load = Promise.withResolvers<HistorySnapshot>();
  const joined = hub.join(joiner, () => load.promise, () => Promise.resolve());
  hub.dispatch(message(1));
  hub.dispatch(message(2));
  load.resolve(EMPTY);
  await joined;
  assert.deepEqual(joiner.events, [message(1), message(2)]);
});

Deno.test("a member whose buffered bytes pass the limit during its join gets SlowJoinError and is not registered", async () => {
  const frameBytes = Frame.of(message(1)).bytes(textDialect).length;
  const hub = new Hub(frameBytes * 3);
  const joiner = new RecordingMember();
  const load = Promise.withResolvers<HistorySnapshot>();
  const joined = hub.join(joiner, () => load.promise, () => Promise.resolve());
  for (let id = 1; id <= 4; id++) hub.dispatch(message(id)); // 4 frames > 3 frames' bytes
  load.resolve(EMPTY);
  await assert.rejects(joined, SlowJoinError);
  assert.equal(hub.size, 0);
  hub.dispatch(message(5));
  assert.deepEqual(joiner.frames, [], "nothing buffered or later is delivered");
});

Deno.test("a joining member may buffer exactly its limit", async () => {
  const frameBytes = Frame.of(message(1)).bytes(textDialect).length;
  const hub = new Hub(frameBytes * 3);
  const joiner = new RecordingMember();
  const load = Promise.withResolvers<HistorySnapshot>();
  const joined = hub.join(joiner, () => load.promise, () => Promise.resolve());
  for (let id = 1; id <= 3; id++) hub.dispatch(message(id));
  load.resolve(EMPTY);
  await joined;
  assert.deepEqual(joiner.events, [message(1), message(2), message(3)]);
  assert.equal(hub.size, 1);
});

Deno.test("a failing load rejects the join and leaves the member unregistered", async () => {
  const hub = new Hub(1 << 20);
  const joiner = new RecordingMember();
  const failure = new Error("store unavailable");
  let sendCalled = false;
  const joined = hub.join(joiner, () => Promise.reject(failure), () => {
    sendCalled = true;
    return Promise.resolve();
  });
  hub.dispatch(message(1));
  await assert.rejects(joined, (error) => error === failure);
  assert.equal(sendCalled, false);
  assert.equal(hub.size, 0);
  hub.dispatch(message(2));
  await settle();
  assert.deepEqual(joiner.frames, []);
});

Deno.test("a failing send rejects the join and leaves the member unregistered", async () => {
  const hub = new Hub(1 << 20);
  const joiner = new RecordingMember();
  const failure = new Error("client went away");
  const joined = hub.join(joiner, () => Promise.resolve(EMPTY), () => Promise.reject(failure));
  hub.dispatch(message(1));
  await assert.rejects(joined, (error) => error === failure);
  assert.equal(hub.size, 0);
  hub.dispatch(message(2));
  await settle();
  assert.deepEqual(joiner.frames, []);
});

Deno.test("leave stops delivery to that member only", async () => {
  const hub = new Hub(1 << 20);
  const leaving = new RecordingMember();
  const staying = new RecordingMember();
  await joinNow(hub, leaving);
  await joinNow(hub, staying);
  hub.dispatch(message(1));
  await settle();
  hub.leave(leaving);
  assert.equal(hub.size, 1);
  hub.dispatch(message(2));
  await settle();
  assert.deepEqual(leaving.events, [message(1)]);
  assert.deepEqual(staying.events, [message(1), message(2)]);
  hub.leave(leaving); // leaving twice is harmless
  assert.equal(hub.size, 1);
});

Deno.test("a member that leaves while its join is pending is not made live when the join completes", async () => {
  const hub = new Hub(1 << 20);
  const joiner = new RecordingMember();
  const load = Promise.withResolvers<HistorySnapshot>();
  const joined = hub.join(joiner, () => load.promise, () => Promise.resolve());
  hub.dispatch(message(1));
  hub.leave(joiner); // e.g. the client disconnected while its history was read
  assert.equal(hub.size, 0);
  load.resolve(EMPTY);
  await joined.catch(() => {}); // resolving or rejecting are both acceptable
  hub.dispatch(message(2));
  await settle();
  assert.equal(hub.size, 0, "the member stays gone");
  assert.deepEqual(
    joiner.events.filter((event) => event.type === "message" && event.id === 2),
    [],
    "no event dispatched after leave reaches it",
  );
});

Deno.test("events dispatched in one turn reach each live member once, as one run in order", async () => {
  const hub = new Hub(1 << 20);
  const a = new RecordingMember();
  const b = new RecordingMember();
  await joinNow(hub, a);
  await joinNow(hub, b);
  const events = [message(1), notice("join", "carol"), message(2, "carol")];
  for (const event of events) hub.dispatch(event);
  assert.deepEqual(a.frames, [], "nothing is delivered before the turn ends");
  await Promise.resolve();
  for (const member of [a, b]) {
    assert.equal(member.runs.length, 1);
    assert.deepEqual(member.events, events);
  }
  assert.strictEqual(a.runs[0], b.runs[0], "one run shared by every member");
  hub.dispatch(message(3));
  await Promise.resolve();
  assert.equal(a.runs.length, 1, "a lone event is delivered as a frame, not a run");
  assert.deepEqual(a.events, [...events, message(3)]);
});

Deno.test("a member going live while events wait for the end of the turn gets those its history lacks, once", async () => {
  const hub = new Hub(1 << 20);
  const joiner = new RecordingMember();
  const sent = Promise.withResolvers<void>();
  const joined = hub.join(joiner, () => Promise.resolve(snapshotUpTo(2)), () => sent.promise);
  await settle();
  // The history's write completes, then in the same turn two events are
  // dispatched: the join goes on before their run would be delivered.
  sent.resolve();
  hub.dispatch(message(2));
  hub.dispatch(message(3));
  await joined;
  await settle();
  assert.deepEqual(joiner.events, [message(3)]);
});
