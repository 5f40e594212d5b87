/**
 * The server's side of coming back: token hashes, claiming a name with or
 * without a token, and choosing between resuming and a fresh replay.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../lib/ops/log.ts";
import { jsonDialect } from "../../lib/protocol/json_dialect.ts";
import type { HistoryEntry } from "../../lib/protocol/model.ts";
import { textDialect } from "../../lib/protocol/text_dialect.ts";
import type { Identity } from "../../lib/server/handshake.ts";
import { claimName, hashToken, planReplay } from "../../lib/server/resume.ts";
import { Roster } from "../../lib/server/roster.ts";
import { LocalPresence } from "../../lib/store/local_presence.ts";

const logger = createLogger("error", () => {});

const json = (fields: Partial<Identity> = {}): Identity => ({
  user: "ann",
  dialect: jsonDialect,
  resumable: true,
  ...fields,
});

Deno.test("a token's hash is the hex SHA-256 of its text", async () => {
  assert.equal(
    await hashToken("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("a JSON client gets a new token per claim and takes its name back with the last one", async () => {
  const roster = new Roster(new LocalPresence(), { ttlMs: 60_000, logger });
  try {
    const first = await claimName(roster, json(), "c1", () => {});
    assert.match(first!.token!, /^[A-Za-z0-9_-]{32}$/);
    assert.equal(first!.takenBack, false);
    assert.equal(await claimName(roster, json(), "c2", () => {}), null, "no token: taken");
    assert.equal(await claimName(roster, json({ token: "guess" }), "c2", () => {}), null);
    const back = await claimName(roster, json({ token: first!.token }), "c2", () => {});
    assert.equal(back!.takenBack, true);
    assert.notEqual(back!.token, first!.token);
    const text = { user: "bob", dialect: textDialect, resumable: false };
    assert.deepEqual(await claimName(roster, text, "c3", () => {}), { takenBack: false });
  } finally {
    roster.close();
  }
});

Deno.test("a resume continues after since in the same epoch, and starts afresh otherwise", () => {
  const entries: HistoryEntry[] = [1, 2, 3].map((id) => ({
    type: "message",
    id,
    user: "ann",
    text: `m${id}`,
    ts: id,
  }));
  const snapshot = { entries, lastId: 3, epoch: "e1" };
  assert.deepEqual(planReplay(json(), snapshot, 2), { entries });
  assert.deepEqual(planReplay(json({ since: 1, epoch: "e1" }), snapshot, 2), {
    entries,
    since: 1,
    outcome: "resumed",
  });
  assert.deepEqual(planReplay(json({ since: 1 }), snapshot, 2), {
    entries,
    since: 1,
    outcome: "resumed",
  }, "a client without epochs resumes as before");
  for (const lost of [json({ since: 1, epoch: "e0" }), json({ since: 9, epoch: "e1" })]) {
    assert.deepEqual(planReplay(lost, snapshot, 2), {
      entries: entries.slice(-2),
      outcome: "reset_by_epoch",
    });
  }
  assert.deepEqual(planReplay(json({ since: 1, epoch: "e0" }), snapshot, 0).entries, []);
});
