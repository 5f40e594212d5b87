/**
 * Hostile lines against a real server process (issue 5, item 1): an endless
 * line is refused as it streams in without growing the server's resident
 * memory, invalid UTF-8 becomes U+FFFD, and control, bidi and invisible
 * formatting characters are gone from names and messages before they are
 * stored, so neither live delivery nor the history replay carries them.
 */

import assert from "node:assert/strict";
import { JsonClient, TextClient } from "../helpers/client.ts";
import { RedisServer } from "../helpers/redis.ts";
import { ServerProcess } from "../helpers/server.ts";

const MiB = 1024 * 1024;
const encoder = new TextEncoder();

Deno.test("a 100 MiB line without a line break is refused as it streams in, the server's memory does not grow, and the connection stays usable", async () => {
  await using server = await ServerProcess.start();
  const { client: streamer } = await TextClient.join(server.port, "streamer");
  const { client: watcher } = await TextClient.join(server.port, "watcher");
  await streamer.readUntil("* watcher joined");
  // One message through every stage first, so that code loaded on first use
  // is already in the baseline.
  streamer.send("warm-up");
  assert.equal(await watcher.nextMessage(), "[streamer]: warm-up");
  const before = await server.rssBytes();

  // Each write resolves once the kernel took it, so this goes as fast as the
  // server reads. The resident size is sampled along the way: a reader that
  // buffered the line would peak before the line ends, not after.
  const chunk = new Uint8Array(64 * 1024).fill("x".charCodeAt(0));
  let peak = before;
  for (let sent = 0; sent < 100 * MiB; sent += chunk.length) {
    await streamer.write(chunk);
    if (sent % (4 * MiB) === 0) peak = Math.max(peak, await server.rssBytes());
  }
  const refusal = "! line too long (max 4096 bytes); it was not sent";
  // Refused when the line crossed the limit, long before its end.
  assert.ok(streamer.seen.includes(refusal), JSON.stringify(streamer.seen));

  await streamer.write("\n");
  streamer.send("still here");
  // Nothing of the long line came before it.
  assert.equal(await watcher.nextMessage(), "[streamer]: still here");
  peak = Math.max(peak, await server.rssBytes());
  // Keeping the line would cost at least 100 MiB (more as a string). What
  // remains is allocator and garbage-collector slack from ~6,400 reads of up
  // to 16 KiB: a few MiB measured; 30 MiB leaves room for a busy machine and
  // is still far below the size of the line.
  const growth = peak - before;
  assert.ok(growth < 30 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  assert.equal(streamer.seen.filter((line) => line === refusal).length, 1);
  await Promise.all([streamer.close(), watcher.close()]);
});

/**
 * Reads a bare socket until a whole line starting with `prefix` (after the
 * first line) has arrived, and returns that line's bytes without the line
 * break: the server's bytes, before any decoder repairs them.
 */
async function rawLineStartingWith(conn: Deno.Conn, prefix: string): Promise<Uint8Array> {
  const needle = encoder.encode(`\n${prefix}`);
  const received: number[] = [];
  const buffer = new Uint8Array(4096);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const n = await conn.read(buffer);
    if (n === null) break;
    received.push(...buffer.subarray(0, n));
    const bytes = Uint8Array.from(received);
    const start = indexOf(bytes, needle);
    const end = start === -1 ? -1 : bytes.indexOf(0x0a, start + 1);
    if (end !== -1) return bytes.subarray(start + 1, end);
  }
  throw new Error(
    `no line starting with ${prefix} in ${new TextDecoder().decode(Uint8Array.from(received))}`,
  );
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("invalid UTF-8 reaches other users as U+FFFD, in a message and in the history, and a name made of it is refused", async () => {
  await using server = await ServerProcess.start();
  const watcher = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await watcher.write(encoder.encode("rawwatcher\n"));
  const { client: sender } = await TextClient.join(server.port, "utf8sender");

  // A cut 2-byte character, stray bytes, a UTF-16 surrogate, an overlong "/",
  // a lone C1 byte (invalid on its own) and a 4-byte character cut short.
  const invalid = [
    [0x63, 0x61, 0x66, 0xc3],
    [0x20, 0xff, 0xfe],
    [0x20, 0xed, 0xa0, 0x80],
    [0x20, 0xc0, 0xaf],
    [0x20, 0x9b],
    [0x20, 0xf0, 0x9f, 0x98],
    [0x20, 0x6f, 0x6b],
  ].flat();
  await sender.write(Uint8Array.from([...invalid, 0x0a]));
  // The replacement is the decoding standard's: one U+FFFD per maximal bad run.
  const expected = `[utf8sender]: ${new TextDecoder().decode(Uint8Array.from(invalid))}`;
  assert.equal(
    expected,
    "[utf8sender]: caf\ufffd \ufffd\ufffd \ufffd\ufffd\ufffd \ufffd\ufffd \ufffd \ufffd ok",
  );

  const line = await rawLineStartingWith(watcher, "[utf8sender]: ");
  // A strict decoder proves the bytes on the wire are valid UTF-8.
  assert.equal(new TextDecoder("utf-8", { fatal: true }).decode(line), expected);
  watcher.close();

  const { client: reader, history } = await TextClient.join(server.port, "utf8reader");
  assert.equal(history.at(-1), expected);

  const badName = await TextClient.connect(server.port);
  await badName.write(Uint8Array.from([0x62, 0xff, 0x6f, 0x62, 0x0a]));
  assert.deepEqual(await badName.readToEnd(), [
    "! invalid name: a name may only hold letters, digits, '_', '.' and '-'",
  ]);
  // Still serving.
  sender.send("after");
  assert.equal(await reader.nextMessage(), "[utf8sender]: after");
  await Promise.all([sender.close(), reader.close(), badName.close()]);
});

Deno.test("control, bidi and invisible formatting characters are removed from names and messages before they are stored", async () => {
  await using redis = await RedisServer.start();
  await using server = await ServerProcess.start({ env: { REDIS_URL: redis.url } });
  const { client: watcher } = await TextClient.join(server.port, "watcher");

  // Zero-width space, word joiner and soft hyphen inside a name.
  const { client: eve } = await TextClient.join(server.port, "e\u200bv\u2060e\u00ad");
  assert.equal(await watcher.readLine(), "* eve joined");
  eve.send(
    [
      "\x1b]0;pwned\x07hi\x00", // a terminal title escape, BEL and NUL
      " \u202eevil\u2066x\u2069\u200e", // bidi override, isolate and mark
      " \u200bzero\ufeff\u00ad\u2060\u061c\u180e", // invisible formatting
      " \x7f\u009b31m\u0085 end", // DEL, C1 CSI and NEL
      " \u{e0041}tag", // a tag character
      // What text needs is kept: tab, and the joiner inside an emoji sequence.
      " a\tb \u{1f468}\u200d\u{1f469}",
    ].join(""),
  );
  const evesText = "]0;pwnedhi evilx zero 31m end tag a\tb \u{1f468}\u200d\u{1f469}";
  assert.equal(await watcher.readLine(), `[eve]: ${evesText}`);

  // In JSON mode text may hold line breaks: they must not forge a second line.
  const { client: mal } = await JsonClient.join(server.port, "m\u202eal\u200f");
  assert.equal(await watcher.readLine(), "* mal joined");
  await mal.request({ type: "message", text: "one\n[eve]: forged\r\u2028\u2029three" });
  const malsText = "one[eve]: forgedthree";
  assert.equal(await watcher.readLine(), `[mal]: ${malsText}`);
  const [receipt] = await mal.readUntil((event) => event.type === "message");
  assert.equal(receipt.text, malsText);

  // What was stored, as Redis holds it.
  const stored = (await redis.command("LRANGE", "chat_history", "0", "-1") as string[])
    .map((entry) => JSON.parse(entry))
    .map(({ user, text }) => ({ user, text }));
  assert.deepEqual(stored, [
    { user: "eve", text: evesText },
    { user: "mal", text: malsText },
  ]);
  // And what the history replays, in both protocols.
  const { client: late, history } = await TextClient.join(server.port, "late");
  assert.deepEqual(history, [`[eve]: ${evesText}`, `[mal]: ${malsText}`]);
  const { client: lateJson, history: events } = await JsonClient.join(server.port, "latejson");
  assert.deepEqual(events.map(({ user, text }) => ({ user, text })), stored);
  await Promise.all([watcher, eve, mal, late, lateJson].map((client) => client.close()));
});
