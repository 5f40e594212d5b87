/**
 * Join and leave notices in big rooms: passed on one by one up to the room
 * limit, gathered into one summary per window above it, with the right
 * counts, in both dialects; and through a real server, the joiner still
 * finds itself and everyone else in /who.
 *
 * The windows are real timers; the tests wait for what the window delivers
 * and assert on its content, never on how long it took.
 */

import assert from "node:assert/strict";
import { Hub } from "../../lib/server/hub.ts";
import { summaryText } from "../../lib/server/notice_summary.ts";
import { jsonDialect } from "../../lib/protocol/json_dialect.ts";
import type { ChatEvent } from "../../lib/protocol/model.ts";
import type { HistorySnapshot } from "../../lib/store/store.ts";
import { InProcessServer } from "../helpers/in_process_server.ts";
import { RecordingMember } from "../helpers/recording_member.ts";
import { sleep } from "../../lib/util/deadline.ts";

const decoder = new TextDecoder();
const EMPTY: HistorySnapshot = { entries: [], lastId: 0, epoch: "e1" };
const WINDOW_MS = 20;

function notice(type: "join" | "leave", user: string): ChatEvent {
  return { type, user, ts: 1_700_000_000_000, origin: `conn-${user}` };
}

function message(id: number): ChatEvent {
  return { type: "message", id, user: "ann", text: `m${id}`, ts: 1, origin: "conn-ann" };
}

/** A member that keeps each frame's text line. */
class Recorder extends RecordingMember {
  /** Waits until `count` frames have arrived. */
  async waitFor(count: number): Promise<string[]> {
    while (this.frames.length < count) await sleep(WINDOW_MS);
    return this.lines;
  }
}

/** A hub with `members` live recorders. */
/** Lets the hub deliver what was dispatched in this turn. */
function turnEnds(): Promise<void> {
  return Promise.resolve();
}

async function roomOf(members: number, noticeRoomLimit: number): Promise<[Hub, Recorder[]]> {
  const hub = new Hub(1 << 20, { noticeRoomLimit, noticeWindowMs: WINDOW_MS });
  const recorders = Array.from({ length: members }, () => new Recorder());
  for (const recorder of recorders) {
    await hub.join(recorder, () => Promise.resolve(EMPTY), () => Promise.resolve());
  }
  return [hub, recorders];
}

Deno.test("a summary counts the people who joined and left, in words", () => {
  assert.equal(summaryText(37, 12), "37 people joined, 12 left");
  assert.equal(summaryText(1, 1), "1 person joined, 1 left");
  assert.equal(summaryText(1, 0), "1 person joined");
  assert.equal(summaryText(0, 2), "2 people left");
});

Deno.test("up to the room limit every join and leave is its own notice, at once", async () => {
  const [hub, [ann]] = await roomOf(3, 3);
  hub.dispatch(notice("join", "bob"));
  hub.dispatch(notice("join", "carol"));
  hub.dispatch(notice("leave", "bob"));
  await turnEnds();
  assert.deepEqual(ann.lines, ["* bob joined", "* carol joined", "* bob left"]);
  hub.close();
});

Deno.test("above the room limit, notices that arrive together become one summary with their counts", async () => {
  const [hub, [ann, bob]] = await roomOf(3, 2);
  hub.dispatch(notice("join", "carol"));
  await turnEnds();
  assert.deepEqual(
    ann.lines,
    ["* carol joined"],
    "the first notice after a quiet spell goes at once",
  );
  hub.dispatch(notice("join", "dave"));
  hub.dispatch(notice("join", "erin"));
  hub.dispatch(notice("leave", "carol"));
  hub.dispatch(message(1));
  await turnEnds();
  assert.deepEqual(ann.lines, ["* carol joined", "[ann]: m1"], "messages are never held");
  assert.deepEqual(await ann.waitFor(3), [
    "* carol joined",
    "[ann]: m1",
    "* 2 people joined, 1 left",
  ]);
  assert.strictEqual(bob.frames[2], ann.frames[2], "one summary frame, shared by every member");
  assert.deepEqual(JSON.parse(decoder.decode(ann.frames[2].bytes(jsonDialect))), {
    type: "notice",
    code: "presence",
    text: "2 people joined, 1 left",
    joined: 2,
    left: 1,
  });
  hub.close();
});

Deno.test("a window that held one notice passes it on as it is, and a quiet window ends the summaries", async () => {
  const [hub, [ann]] = await roomOf(2, 1);
  hub.dispatch(notice("join", "carol"));
  hub.dispatch(notice("leave", "carol"));
  assert.deepEqual(await ann.waitFor(2), ["* carol joined", "* carol left"]);
  // The window after that one saw nothing and closed (no timer left for the
  // sanitizer); a later notice goes out at once again.
  await sleep(WINDOW_MS * 3);
  hub.dispatch(notice("join", "dave"));
  await turnEnds();
  assert.deepEqual(ann.lines.at(-1), "* dave joined");
  hub.close();
});

Deno.test("a summary reaches a member still joining after its history, like any notice", async () => {
  const [hub, [ann]] = await roomOf(2, 1);
  hub.dispatch(notice("join", "carol"));
  await turnEnds();
  const joiner = new Recorder();
  const historySent = Promise.withResolvers<void>();
  const joined = hub.join(joiner, () => Promise.resolve(EMPTY), () => historySent.promise);
  hub.dispatch(notice("join", "dave"));
  hub.dispatch(notice("join", "erin"));
  await ann.waitFor(2);
  assert.deepEqual(joiner.lines, [], "nothing before its history is written");
  historySent.resolve();
  await joined;
  assert.deepEqual(joiner.lines, ["* 2 people joined"]);
  hub.close();
});

Deno.test("closing the hub drops what a window holds and delivers later notices as they come", async () => {
  const [hub, [ann]] = await roomOf(2, 1);
  hub.dispatch(notice("join", "carol"));
  hub.dispatch(notice("join", "dave"));
  hub.close();
  hub.dispatch(notice("leave", "carol"));
  await sleep(WINDOW_MS * 2);
  assert.deepEqual(ann.lines, ["* carol joined", "* carol left"]);
});

Deno.test("in a room over the limit, joins arriving together are summarised and /who still lists the joiner", async () => {
  await using server = await InProcessServer.start({ noticeRoomLimit: 1 });
  await using ann = (await server.joinText("ann")).client;
  const joins = await Promise.all(["bob", "carol", "dave", "erin"].map((u) => server.joinText(u)));
  await using _clients = new AsyncDisposableStack();
  for (const { client } of joins) _clients.use(client);
  const erin = joins[3].client;

  // Four joins reach ann, one by one or summarised: the counts add up to four.
  let joined = 0;
  const lines: string[] = [];
  while (joined < 4) {
    const line = (await ann.next())!;
    lines.push(line);
    const summary = line.match(/^\* (\d+) (?:people|person) joined$/);
    joined += summary ? Number(summary[1]) : line.endsWith(" joined") ? 1 : 0;
  }
  assert.equal(joined, 4, `lines: ${lines}`);
  assert.ok(lines.length < 4, `notices arriving together were summarised: ${lines}`);

  await erin.send("/who");
  const who = await erin.readUntil((line) => line.startsWith("* online"));
  assert.equal(who.at(-1), "* online (5): ann, bob, carol, dave, erin");
});
