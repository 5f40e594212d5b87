/**
 * Group commit: appends made together are committed together and in order,
 * a quiet batcher commits at once, and a failed batch fails each of its
 * appends and no other.
 */

import assert from "node:assert/strict";
import { AppendBatcher } from "../../lib/store/append_batcher.ts";
import type { ChatMessage, NewMessage } from "../../lib/protocol/model.ts";

function newMessage(text: string): NewMessage {
  return { user: "ann", text, ts: 1, origin: "r/1" };
}

/** A store that records its batches and answers when told to. */
class ManualStore {
  batches: string[][] = [];
  #nextId = 1;
  #pending: Array<{ settle: (error?: Error) => void }> = [];

  commit = (batch: readonly NewMessage[]): Promise<ChatMessage[]> => {
    this.batches.push(batch.map((message) => message.text));
    return new Promise((resolve, reject) => {
      this.#pending.push({
        settle: (error) => {
          if (error) return reject(error);
          resolve(batch.map((message) => ({ ...message, id: this.#nextId++ })));
        },
      });
    });
  };

  /** Settles the oldest batch in flight. */
  answer(error?: Error): void {
    this.#pending.shift()!.settle(error);
  }
}

/** Resolves once pending immediates (the batcher's end of turn) have run. */
function endOfTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("a quiet batcher commits a single append at the end of the turn, without a batch window", async () => {
  const store = new ManualStore();
  const batcher = new AppendBatcher(store.commit);
  const stored = batcher.append(newMessage("alone"));
  assert.deepEqual(store.batches, [], "nothing is committed before the turn ends");
  await endOfTurn();
  assert.deepEqual(store.batches, [["alone"]]);
  store.answer();
  assert.equal((await stored).id, 1);
});

Deno.test("appends made while a batch is in flight go out together as the next batch, in order, with ids in order", async () => {
  const store = new ManualStore();
  const batcher = new AppendBatcher(store.commit);
  const first = batcher.append(newMessage("a"));
  await endOfTurn();
  const rest = ["b", "c", "d"].map((text) => batcher.append(newMessage(text)));
  await endOfTurn();
  assert.deepEqual(store.batches, [["a"]], "one commit at a time");
  store.answer();
  await first;
  await endOfTurn();
  assert.deepEqual(store.batches, [["a"], ["b", "c", "d"]]);
  store.answer();
  assert.deepEqual((await Promise.all(rest)).map((message) => message.id), [2, 3, 4]);
});

Deno.test("a failed batch rejects each of its appends with its error, and the next batch is still committed", async () => {
  const store = new ManualStore();
  const batcher = new AppendBatcher(store.commit);
  const failed = ["x", "y"].map((text) => batcher.append(newMessage(text)));
  await endOfTurn();
  const later = batcher.append(newMessage("z"));
  store.answer(new Error("store down"));
  for (const append of failed) await assert.rejects(append, /store down/);
  await endOfTurn();
  assert.deepEqual(store.batches, [["x", "y"], ["z"]]);
  store.answer();
  assert.equal((await later).text, "z");
});

Deno.test("a batch takes at most its message limit; the rest follow in the next batch", async () => {
  const store = new ManualStore();
  const batcher = new AppendBatcher(store.commit, { maxMessages: 2 });
  const all = ["1", "2", "3"].map((text) => batcher.append(newMessage(text)));
  await endOfTurn();
  assert.deepEqual(store.batches, [["1", "2"]]);
  assert.equal(batcher.waiting, 1);
  store.answer();
  await endOfTurn();
  store.answer();
  assert.deepEqual((await Promise.all(all)).map((message) => message.id), [1, 2, 3]);
});

Deno.test("with two commits allowed in flight, the next batch goes out before the first is answered, and outcomes keep the order", async () => {
  const store = new ManualStore();
  const batcher = new AppendBatcher(store.commit, { maxInFlight: 2 });
  const first = batcher.append(newMessage("a"));
  await endOfTurn();
  const second = ["b", "c"].map((text) => batcher.append(newMessage(text)));
  await endOfTurn();
  const third = batcher.append(newMessage("d"));
  await endOfTurn();
  assert.deepEqual(store.batches, [["a"], ["b", "c"]], "two in flight, the third batch waits");
  store.answer();
  assert.equal((await first).id, 1);
  await endOfTurn();
  assert.deepEqual(store.batches, [["a"], ["b", "c"], ["d"]]);
  store.answer();
  store.answer();
  assert.deepEqual((await Promise.all([...second, third])).map((message) => message.id), [2, 3, 4]);
});
