/**
 * Seeded, bounded fuzzing of what reads untrusted input: the line reader,
 * fed hostile bytes split at random points, the text functions that see
 * each line, and the protocol parsers (text requests, JSON requests, the
 * JSON hello), whose results must keep the documented shape: message text
 * sanitised and trimmed, refs within their grammar. A failure message starts with `FUZZ_SEED=<n>`; run this file
 * again with that variable set to replay it exactly.
 */

import assert from "node:assert/strict";
import { type Line, type LineReaderOptions, readLines } from "../../lib/util/line_reader.ts";
import { parseHello, parseJsonRequest } from "../../lib/protocol/json_dialect.ts";
import type { Request } from "../../lib/protocol/dialect.ts";
import type { ErrorCode } from "../../lib/protocol/errors.ts";
import { MAX_NAME_LENGTH, nameProblem } from "../../lib/protocol/names.ts";
import { sanitize } from "../../lib/util/sanitize.ts";
import { parseTextRequest } from "../../lib/protocol/text_dialect.ts";
import {
  fuzz,
  hostileBytes,
  hostileLine,
  hostileRequest,
  type Prng,
  RandomChunkSource,
} from "../helpers/fuzz.ts";

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

/** Any hostile line, of one of a few sizes. */
const anyLine = (prng: Prng) => hostileLine(prng, prng.pick([16, 256, 4096]));

/**
 * Registers a fuzz test feeding lines from `lines` (hostile ones by default)
 * to `parse`, which must never throw; `check` may assert properties of each
 * result.
 */
function fuzzParser<T>(
  name: string,
  parse: (line: string) => T,
  check: (line: string, result: T) => void = () => {},
  lines: (prng: Prng) => string = anyLine,
): void {
  Deno.test(`fuzz: ${name} takes any line without throwing`, async () => {
    await fuzz({ name, iterations: ITERATIONS }, (prng) => {
      const line = lines(prng);
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

/** The `ref` grammar of docs/protocol.md. */
const REF = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Mostly request-shaped JSON, else anything: what a JSON-mode server reads. */
const jsonish = (prng: Prng) =>
  prng.chance(0.75) ? hostileRequest(prng, prng.pick([16, 256, 4096])) : anyLine(prng);

/** `JSON.parse(line)` if that is an object, else undefined. */
function parsedObject(line: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks a parsed request against `protocol.ts`: only the request types and
 * the error code this protocol has, no other fields, message text sanitised,
 * trimmed and not empty, refs within their grammar, and no unsafe character
 * in an error's text (it may quote what the client sent).
 */
function assertRequest(
  request: Request | null,
  line: string,
  types: readonly Request["type"][],
  code: ErrorCode,
): void {
  if (request === null) return;
  const what = `${JSON.stringify(request)} from ${JSON.stringify(line)}`;
  assert.ok(types.includes(request.type), `a request of another protocol: ${what}`);
  switch (request.type) {
    case "message": {
      const fields = request.ref === undefined ? ["text", "type"] : ["ref", "text", "type"];
      assert.deepEqual(Object.keys(request).sort(), fields, what);
      assert.equal(typeof request.text, "string", what);
      assert.ok(request.text !== "" && request.text === request.text.trim(), `untrimmed: ${what}`);
      assert.equal(sanitize(request.text), request.text, `unsanitised text: ${what}`);
      if (request.ref !== undefined) assert.match(request.ref, REF, what);
      return;
    }
    case "invalid": {
      const { error } = request;
      assert.deepEqual(Object.keys(request).sort(), ["error", "type"], what);
      assert.equal(error.code, code, what);
      assert.equal(error.fatal, undefined, `a request error closes nothing: ${what}`);
      assert.ok(typeof error.text === "string" && error.text !== "", what);
      assert.equal(sanitize(error.text), error.text, `an error echoes unsafe text: ${what}`);
      if (error.ref !== undefined) assert.match(error.ref, REF, what);
      return;
    }
    default:
      assert.deepEqual(Object.keys(request), ["type"], what);
  }
}

fuzzParser("parseTextRequest", parseTextRequest, (line, request) => {
  assertRequest(request, line, ["message", "who", "help", "quit", "invalid"], "unknown_command");
  // Only "//" sends a message that starts with "/"; anything else is a command.
  if (request?.type === "message" && request.text.startsWith("/")) {
    assert.ok(sanitize(line).trim().startsWith("//"), `a command sent as text: ${line}`);
  }
});

fuzzParser("parseJsonRequest", parseJsonRequest, (line, request) => {
  assertRequest(request, line, ["message", "who", "ping", "quit", "invalid"], "bad_request");
  // A well-formed message is sent as documented (one left empty is answered,
  // since a program waits for its receipt), and an error about a message
  // with a valid ref carries that ref.
  const value = parsedObject(line);
  if (value?.type !== "message") return;
  const validRef = value.ref === undefined ||
    (typeof value.ref === "string" && REF.test(value.ref));
  if (!validRef) return;
  const ref = value.ref === undefined ? {} : { ref: value.ref as string };
  const text = typeof value.text === "string" ? sanitize(value.text).trim() : "";
  if (text !== "") {
    assert.deepEqual(request, { type: "message", text, ...ref }, line);
  } else {
    assert.equal(request?.type, "invalid", line);
    assert.equal(request.type === "invalid" && request.error.ref, ref.ref, line);
  }
}, jsonish);

fuzzParser("parseHello", parseHello, (line, hello) => {
  const what = `${JSON.stringify(hello)} from ${JSON.stringify(line)}`;
  // Valid exactly when docs/protocol.md says so.
  const value = parsedObject(line);
  const valid = value?.type === "hello" && typeof value.user === "string" &&
    (value.since === undefined ||
      (Number.isSafeInteger(value.since) && (value.since as number) >= 0));
  if ("code" in hello) {
    assert.ok(!valid, `refused a valid hello: ${what}`);
    assert.deepEqual(Object.keys(hello).sort(), ["code", "fatal", "text"], what);
    assert.equal(hello.code, "bad_hello", what);
    assert.equal(hello.fatal, true, what);
    assert.equal(sanitize(hello.text), hello.text, `an error echoes unsafe text: ${what}`);
  } else {
    assert.ok(valid, `accepted an invalid hello: ${what}`);
    // The name as sent (the session sanitises and checks it), and since as sent.
    const expected = value!.since === undefined
      ? { user: value!.user }
      : { user: value!.user, since: value!.since };
    assert.deepEqual(hello, expected, what);
  }
}, jsonish);
