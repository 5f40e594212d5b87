/**
 * The client's resume point: the last id delivered, the history's epoch and
 * the newest resume token, as the next hello sends them.
 */

import assert from "node:assert/strict";
import { ResumePoint } from "../../lib/client/resume_point.ts";

Deno.test("a fresh resume point resumes after nothing, with no epoch or token", () => {
  assert.deepEqual(new ResumePoint().hello(), { since: 0 });
});

Deno.test("each message id counts once, and history_end sets the point with the newest token", () => {
  const point = new ResumePoint();
  point.joined({ id: 4, epoch: "e1", token: "t1" });
  assert.equal(point.advance(4), false, "seen in the history");
  assert.equal(point.advance(5), true);
  assert.equal(point.advance(5), false, "seen twice");
  assert.deepEqual(point.hello(), { since: 5, epoch: "e1", token: "t1" });
  point.joined({ id: 7, epoch: "e1", token: "t2" });
  assert.deepEqual(point.hello(), { since: 7, epoch: "e1", token: "t2" });
  point.joined({ id: 8 });
  assert.deepEqual(point.hello(), { since: 8, epoch: "e1", token: "t2" }, "an older server's end");
});

Deno.test("after a history reset every id is new again, and the new epoch is kept", () => {
  const point = new ResumePoint();
  point.joined({ id: 40, epoch: "e1", token: "t1" });
  point.reset();
  assert.equal(point.advance(1), true, "the fresh replay starts low");
  point.joined({ id: 3, epoch: "e2", token: "t2" });
  assert.deepEqual(point.hello(), { since: 3, epoch: "e2", token: "t2" });
});
