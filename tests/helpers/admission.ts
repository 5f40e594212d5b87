/**
 * Joining a server that may turn the client away: by its limits, or because
 * the name is taken or invalid. Unlike `TextClient.join`, nothing here
 * retries a taken name unless asked to, so a test can see each refusal.
 *
 * @module
 */

import assert from "node:assert/strict";
import { TextClient } from "./client.ts";
import { poll } from "./poll.ts";

/**
 * Connects and sends `name`. Returns the client once it has joined (its
 * history read), or every line the server sent before closing the connection.
 */
export async function tryJoin(port: number, name: string): Promise<TextClient | string[]> {
  const client = await TextClient.connect(port);
  client.send(name);
  const lines: string[] = [];
  while (true) {
    const line = await client.readLine();
    if (line === "HISTORY_END") return client;
    if (line === null) break;
    lines.push(line);
  }
  await client.close();
  return lines;
}

/**
 * Joins as soon as the server lets `name` in (a slot or the name freed),
 * failing at once on any answer other than `refusal`.
 */
export function joinWhenFree(
  port: number,
  name: string,
  refusal: string,
  timeoutMs = 10_000,
): Promise<TextClient> {
  return poll(`${name} let in`, async () => {
    const result = await tryJoin(port, name);
    if (result instanceof TextClient) return result;
    assert.deepEqual(result, [refusal]);
    return null;
  }, { timeoutMs });
}
