/**
 * Seeded, bounded fuzzing of what reads untrusted input: the line reader,
 * fed hostile bytes split at random points, and the text functions that see
 * each line. A failure message starts with `FUZZ_SEED=<n>`; run this file
 * again with that variable set to replay it exactly.
 */

import assert from "node:assert/strict";
import { type Line, type LineReaderOptions, readLines } from "../lib/lines.ts";
import { MAX_NAME_LENGTH, nameProblem, sanitize } from "../lib/sanitize.ts";
import { fuzz, hostileBytes, hostileLine, type Prng, RandomChunkSource } from "./helpers/fuzz.ts";

const ITERATIONS = 300;

/** What readLines should yield, worked out the obvious way from the whole input. */
interface Expected {
  line: Line;
  /** Offset of the line's first byte in the input. */
  start: number;
}

/**
 * The reference splitter: split on LF, drop one CR before it (or at the end
 * of input), a last piece without LF is a line if it is not empty, and a line
 * over the limit is one `too_long`.
 */
function reference(input: Uint8Array, maxLineBytes: number): Expected[] {
  const decoder = new TextDecoder();
  const out: Expected[] = [];
  let start = 0;
  while (start < input.length) {
    const newline = input.indexOf(0x0a, start);
    const end = newline === -1 ? input.length : newline;
    const contentEnd = end > start && input[end - 1] === 0x0d ? end - 1 : end;
    out.push({
      start,
      line: contentEnd - start > maxLineBytes
        ? { type: "too_long" }
        : { type: "line", text: decoder.decode(input.subarray(start, contentEnd)) },
    });
    if (newline === -1) break;
    start = newline + 1;
  }
  return out;
}

function randomOptions(prng: Prng): LineReaderOptions {
  const minBufferBytes = prng.int(1, 256);
  return {
    // Mostly realistic limits, some tiny ones (every line is too long), and the default.
    maxLineBytes: prng.chance(0.15) ? prng.int(0, 4) : prng.chance(0.85) ? prng.int(5, 2048) : 4096,
    minBufferBytes,
    maxBufferBytes: prng.int(minBufferBytes, 4096),
  };
}

Deno.test("fuzz: readLines on hostile bytes split at random points matches the reference, with bounded buffers", async () => {
  const encoder = new TextEncoder();
  await fuzz({ name: "readLines", iterations: ITERATIONS }, async (prng) => {
    const options = randomOptions(prng);
    const { maxLineBytes } = options;
    const input = hostileBytes(prng, maxLineBytes);
    const source = new RandomChunkSource(input, prng);
    const expected = reference(input, maxLineBytes);
    const what = `options ${JSON.stringify(options)}, ${input.length} input bytes`;

    const lines: Line[] = [];
    let index = 0;
    try {
      for await (const line of readLines(source, options)) {
        lines.push(line);
        const ahead = expected[index++];
        if (line.type === "too_long" && ahead?.line.type === "too_long") {
          // Reported as the line crosses the limit, not after reading it whole.
          const limit = ahead.start + maxLineBytes + 2 + options.maxBufferBytes!;
          assert.ok(
            source.served <= limit,
            `${what}: too_long for the line at ${ahead.start} came after ${source.served} bytes (limit ${limit})`,
          );
        }
      }
    } catch (error) {
      assert.fail(`${what}: readLines threw ${error}`);
    }

    assert.deepEqual(
      lines,
      expected.map((e) => e.line),
      `${what}: lines differ from the reference`,
    );
    assert.equal(source.served, input.length, `${what}: all input consumed`);
    assert.ok(
      source.largestBuffer <= options.maxBufferBytes!,
      `${what}: a read buffer of ${source.largestBuffer} bytes exceeds maxBufferBytes`,
    );
    for (const line of lines) {
      if (line.type !== "line") continue;
      // Invalid bytes decode to U+FFFD (3 bytes each), so only valid UTF-8
      // keeps its byte length; nothing exceeds three times the limit.
      const bytes = encoder.encode(line.text).length;
      assert.ok(
        bytes <= 3 * maxLineBytes,
        `${what}: a line of ${bytes} bytes exceeds 3 x ${maxLineBytes}`,
      );
      if (!line.text.includes("\ufffd")) {
        assert.ok(bytes <= maxLineBytes, `${what}: a line of ${bytes} bytes exceeds the limit`);
      }
      assert.ok(!line.text.includes("\n"), `${what}: a line contains a line feed`);
    }
  });
});

/**
 * Registers a fuzz test feeding hostile lines to `parse`, which must never
 * throw; `check` may assert properties of each result. Protocol parsers
 * (`parseClientLine` in text and JSON modes) belong here, one call each.
 */
function fuzzParser<T>(
  name: string,
  parse: (line: string) => T,
  check: (line: string, result: T) => void = () => {},
): void {
  Deno.test(`fuzz: ${name} takes any line without throwing`, async () => {
    await fuzz({ name, iterations: ITERATIONS }, (prng) => {
      const line = hostileLine(prng, prng.pick([16, 256, 4096]));
      let result: T;
      try {
        result = parse(line);
      } catch (error) {
        throw new Error(`${name} threw ${error} on ${JSON.stringify(line)}`);
      }
      check(line, result);
    });
  });
}

// What sanitize() promises to remove, by Unicode category: controls but tab,
// format characters but ZWNJ/ZWJ, and line and paragraph separators.
const UNSAFE = /(?![\t\u200C\u200D])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

fuzzParser("sanitize", sanitize, (line, clean) => {
  assert.ok(!UNSAFE.test(clean), `unsafe character left in ${JSON.stringify(clean)}`);
  assert.equal(sanitize(clean), clean, `not idempotent on ${JSON.stringify(line)}`);
});

fuzzParser("nameProblem", nameProblem, (line, problem) => {
  if (problem !== null) return;
  assert.ok(
    line.length > 0 && [...line].length <= MAX_NAME_LENGTH,
    `accepted ${JSON.stringify(line)}`,
  );
  assert.ok(!line.startsWith("{"), `accepted a name opening JSON: ${JSON.stringify(line)}`);
  assert.ok(!/[\s\p{C}]/u.test(line), `accepted an invisible character in ${JSON.stringify(line)}`);
});
