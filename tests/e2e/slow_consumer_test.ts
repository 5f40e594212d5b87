/**
 * A client that stops reading, on a real server process (issue 5, item 4):
 * while others chat as fast as they can, everyone else keeps getting every
 * message without a stall, the slow client is told why and disconnected
 * (past the hard queue limit at once, past the soft one after its grace
 * time), the server's resident memory stays bounded, and the disconnect is
 * counted in the metrics.
 */

import assert from "node:assert/strict";
import { TextClient } from "../helpers/client.ts";
import { scrapeMetric } from "../helpers/metrics.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

const MiB = 1024 * 1024;
const SENDERS = 3;
/** Lines each sender writes per round, about 4 KiB each. */
const PER_ROUND = 4;
const PADDING = "x".repeat(4000);
/**
 * The soft limit: above what one round puts in a reader's queue (12 lines of
 * about 4 KiB), so a client that reads is never near a limit.
 */
const QUEUE_SOFT_LIMIT = 65_536;
/** A round that takes longer than this is a stall (a round normally takes milliseconds). */
const STALL_MS = 2_000;

interface Chat {
  server: ServerProcess;
  /** Clients that only read; the senders read each other's messages too. */
  readers: TextClient[];
  senders: TextClient[];
  /** A bare socket that sent its name and then never reads. */
  slow: Deno.TcpConn;
}

/** Starts a server, joins the readers, the senders and the client that never reads. */
async function startChat(env: Record<string, string>): Promise<Chat> {
  const server = await ServerProcess.start({
    // Full speed: this is about output, not the rate limit.
    env: { RATE_LIMIT: "100000", RATE_BURST: "100000", ...env },
  });
  const join = async (name: string) => (await TextClient.join(server.port, name)).client;
  const readers = await Promise.all(["reader1", "reader2"].map(join));
  const slow = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await slow.write(new TextEncoder().encode("slowpoke\n"));
  await readers[0].readUntil("* slowpoke joined");
  const senders = await Promise.all(Array.from({ length: SENDERS }, (_, i) => join(`s${i}`)));
  for (const client of [...readers, ...senders.slice(0, -1)]) {
    await client.readUntil(`* s${SENDERS - 1} joined`);
  }
  return { server, readers, senders, slow };
}

/** Rounds chatted after the slow client was dropped, to show nothing changed for the others. */
const ROUNDS_AFTER_DROP = 50;
/** Gives up on a slow client that is never dropped: 48 MiB that it did not read. */
const MAX_ROUNDS = 1_000;

/**
 * Chats in rounds: every sender writes its lines at once, then every other
 * client must have all of them, in each sender's order, before the next
 * round. So the senders go as fast as the readers take it, and the client
 * that never reads falls further behind each round. (Senders that did not
 * wait would outrun this test process's own readers, and the server would
 * rightly drop those as slow too.) Goes on for at least
 * `minRounds`, and until the slow client has been dropped for
 * {@linkcode ROUNDS_AFTER_DROP} rounds.
 *
 * Starts reading the slow socket as soon as the server says it dropped it
 * (the server gives a last word 2 s to be read), and returns everything read
 * from it, with the longest round.
 */
async function chat(
  { server, readers, senders, slow }: Chat,
  minRounds: number,
): Promise<{ slowReceived: Promise<string>; longestRound: number }> {
  let slowReceived: Promise<string> | undefined;
  let droppedAt = Infinity;
  let longestRound = 0;
  for (let round = 0; round < Math.max(minRounds, droppedAt + ROUNDS_AFTER_DROP); round++) {
    assert.ok(round < MAX_ROUNDS, "the client that never reads is still connected");
    const started = performance.now();
    await Promise.all(senders.map((sender, i) => {
      const lines = Array.from({ length: PER_ROUND }, (_, k) => {
        return `${i}:${round * PER_ROUND + k} ${PADDING}\n`;
      });
      return sender.write(lines.join(""));
    }));
    await Promise.all([...readers, ...senders].map(async (client) => {
      const others = senders.filter((sender) => sender !== client).length;
      const got: string[] = [];
      // Join and leave notices are not counted.
      while (got.length < others * PER_ROUND) {
        const line = await client.nextMessage(20_000);
        got.push(line.endsWith(` ${PADDING}`) ? line.slice(0, -PADDING.length) : line);
      }
      // Every message, whole and in each sender's order: none lost or repeated.
      for (const [i, sender] of senders.entries()) {
        if (sender === client) continue;
        const expected = Array.from({ length: PER_ROUND }, (_, k) => {
          return `[s${i}]: ${i}:${round * PER_ROUND + k} `;
        });
        assert.deepEqual(got.filter((line) => line.startsWith(`[s${i}]: `)), expected);
      }
    }));
    longestRound = Math.max(longestRound, performance.now() - started);
    if (!slowReceived && server.logs.includes("user=slowpoke code=slow_consumer")) {
      slowReceived = new Response(slow.readable).text();
      droppedAt = round;
    }
  }
  return { slowReceived: slowReceived!, longestRound };
}

async function stopChat({ server, readers, senders }: Chat): Promise<void> {
  await Promise.all([...readers, ...senders].map((client) => client.close()));
  await server[Symbol.asyncDispose]();
}

Deno.test("a client that stops reading is disconnected past the hard queue limit while the others get every message and the server's memory stays bounded", async () => {
  // The store's memory is then in redis-server, not in the process measured.
  await using redis = await RedisServer.start({ appendOnly: false });
  const chatting = await startChat({
    REDIS_URL: redis.url,
    QUEUE_LIMIT: String(4 * QUEUE_SOFT_LIMIT),
    QUEUE_SOFT_LIMIT: String(QUEUE_SOFT_LIMIT),
    QUEUE_SOFT_SECONDS: "60",
    // V8 lets garbage pile up to its heap limits before collecting: under
    // this traffic that alone is about 50 MiB of resident memory, whatever
    // the queues hold. With small limits, resident memory follows what is
    // really kept, so a queue that kept what the slow client never read
    // (every message, see below) shows.
    DENO_V8_FLAGS: "--max-old-space-size=64,--max-semi-space-size=1",
  });
  const { server } = chatting;
  const before = await server.rssBytes();

  // 750 rounds of 12 lines of 4 KiB: 36 MiB that the slow client never reads.
  const { slowReceived, longestRound } = await chat(chatting, 750);
  const after = await server.rssBytes();
  // What it could still read: its kernel buffers, then the reason.
  const last = (await slowReceived).trimEnd().split("\n").at(-1);
  assert.equal(last, "! too slow: more than 262144 bytes waiting to be read; disconnected");

  assert.ok(longestRound < STALL_MS, `a round took ${Math.round(longestRound)} ms`);
  // Measured: a few MiB. Keeping the 36 MiB the slow client did not read
  // would be far above 20 MiB.
  const growth = after - before;
  assert.ok(growth < 20 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  assert.equal(
    await scrapeMetric(server.httpPort, "chat_slow_consumers_disconnected_total"),
    1,
  );
  await stopChat(chatting);
});

Deno.test("a client that stays past the soft queue limit for QUEUE_SOFT_SECONDS is disconnected while the others get every message", async () => {
  const chatting = await startChat({
    // Never reached here: only the soft limit can drop the client.
    QUEUE_LIMIT: String(256 * MiB),
    QUEUE_SOFT_LIMIT: String(QUEUE_SOFT_LIMIT),
    QUEUE_SOFT_SECONDS: "1",
  });
  const { server } = chatting;
  // As long as it takes to fill the kernel's buffers, then to stay over the
  // soft limit for a second.
  const { slowReceived, longestRound } = await chat(chatting, 0);
  const last = (await slowReceived).trimEnd().split("\n").at(-1);
  assert.equal(
    last,
    "! too slow: more than 65536 bytes waiting to be read for over 1 s; disconnected",
  );
  assert.ok(longestRound < STALL_MS, `a round took ${Math.round(longestRound)} ms`);
  assert.equal(
    await scrapeMetric(server.httpPort, "chat_slow_consumers_disconnected_total"),
    1,
  );
  await stopChat(chatting);
});
