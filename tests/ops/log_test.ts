/**
 * The logger: levels, the text and JSON formats, structured fields, and that
 * one entry stays one line whatever the message holds.
 */

import assert from "node:assert/strict";
import { createLogger, escapeLogText, type LogLevel } from "../../lib/ops/log.ts";

const TEXT_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (DEBUG|INFO |WARN |ERROR) (.*)$/;

function capture(level: LogLevel, format?: "text" | "json") {
  const lines: string[] = [];
  const logger = createLogger(level, { format, write: (line) => lines.push(line) });
  return { logger, lines };
}

Deno.test("text is the default format: ISO time, padded level, message", () => {
  const { logger, lines } = capture("debug");
  logger.debug("d");
  logger.info("i");
  logger.warn("w");
  logger.error("e");
  assert.equal(lines.length, 4);
  const parsed = lines.map((line) => line.match(TEXT_LINE));
  assert.deepEqual(parsed.map((m) => m?.[2]), ["DEBUG", "INFO ", "WARN ", "ERROR"]);
  assert.deepEqual(parsed.map((m) => m?.[3]), ["d", "i", "w", "e"]);
  const ts = Date.parse(parsed[0]![1]);
  assert.ok(Math.abs(Date.now() - ts) < 5_000, "the timestamp is now");
});

Deno.test("entries below the level are not written, in either format", () => {
  for (const format of ["text", "json"] as const) {
    const { logger, lines } = capture("warn", format);
    logger.debug("no");
    logger.info("no");
    logger.warn("yes");
    logger.error("yes");
    assert.equal(lines.length, 2, format);
  }
});

Deno.test("a write function alone as the second argument still works", () => {
  const lines: string[] = [];
  const logger = createLogger("info", (line) => lines.push(line));
  logger.info("old style");
  assert.ok(lines[0].endsWith(" INFO  old style"));
});

Deno.test("an unknown format is refused", () => {
  assert.throws(
    () => createLogger("info", { format: "xml" as "json", write: () => {} }),
    RangeError,
  );
});

Deno.test("text fields follow the message as key=value, quoted only when needed", () => {
  const { logger, lines } = capture("info");
  logger.info("client refused", {
    remote: "10.0.0.7:51234",
    reason: "server full",
    count: 3,
    retry: false,
    empty: "",
    skipped: undefined,
    eq: "a=b",
  });
  assert.equal(
    lines[0].match(TEXT_LINE)?.[3],
    'client refused remote=10.0.0.7:51234 reason="server full" count=3 retry=false empty="" eq="a=b"',
  );
});

Deno.test("JSON lines carry ts, level and msg first, then the fields", () => {
  const { logger, lines } = capture("debug", "json");
  logger.debug("d");
  logger.info("alice joined", { remote: "127.0.0.1:5000", clients: 4, redis: true });
  logger.warn("w");
  logger.error("e");
  const entries = lines.map((line) => JSON.parse(line));
  assert.deepEqual(entries.map((e) => e.level), ["debug", "info", "warn", "error"]);
  const { ts, ...rest } = entries[1];
  assert.ok(Math.abs(Date.now() - Date.parse(ts)) < 5_000);
  assert.deepEqual(rest, {
    level: "info",
    msg: "alice joined",
    remote: "127.0.0.1:5000",
    clients: 4,
    redis: true,
  });
  assert.deepEqual(Object.keys(entries[1]).slice(0, 3), ["ts", "level", "msg"]);
});

Deno.test("fields named ts, level or msg never override the entry's own", () => {
  const { logger, lines } = capture("info", "json");
  logger.info("real", { ts: "forged", level: "error", msg: "forged", ok: 1 });
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.level, "info");
  assert.equal(entry.msg, "real");
  assert.notEqual(entry.ts, "forged");
  assert.equal(entry["field.ts"], "forged");
  assert.equal(entry["field.level"], "error");
  assert.equal(entry["field.msg"], "forged");
  assert.equal(entry.ok, 1);
});

const FORGERIES = [
  "bob\n2030-01-01T00:00:00.000Z INFO  admin joined",
  'bob\r\n{"level":"error"}',
  "x\u2028y\u2029z\u0085w",
  "\x1b[2J\x1b]0;title\x07",
  "evil\u202eoln.exe",
];

Deno.test("a newline or control character in a message or field stays inside one text line", () => {
  const { logger, lines } = capture("info");
  for (const forged of FORGERIES) logger.warn(forged, { user: forged });
  assert.equal(lines.length, FORGERIES.length);
  for (const line of lines) {
    assert.match(line, TEXT_LINE);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/u);
  }
  assert.equal(
    lines[0].match(TEXT_LINE)?.[3],
    'bob\\n2030-01-01T00:00:00.000Z INFO  admin joined user="bob\\n2030-01-01T00:00:00.000Z INFO  admin joined"',
  );
  assert.match(lines[3], / \\x1b\[2J\\x1b\]0;title\\x07 /);
  assert.match(lines[4], /evil\\u202eoln\.exe/);
});

Deno.test("a newline or control character in a message or field stays inside one JSON line", () => {
  const { logger, lines } = capture("info", "json");
  for (const forged of FORGERIES) logger.warn(forged, { user: forged });
  assert.equal(lines.length, FORGERIES.length);
  for (const [i, line] of lines.entries()) {
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/u);
    const entry = JSON.parse(line);
    assert.equal(entry.msg, FORGERIES[i], "the text survives exactly");
    assert.equal(entry.user, FORGERIES[i]);
    assert.equal(entry.level, "warn");
  }
});

Deno.test("escapeLogText keeps ordinary text, emoji joiners and non-Latin scripts as they are", () => {
  for (const text of ["plain", "Zoë 日本語 नमस्ते", "👩‍💻", 'quotes " and \\ backslash']) {
    assert.equal(escapeLogText(text), text);
  }
  assert.equal(escapeLogText("a\tb"), "a\\tb");
  assert.equal(escapeLogText("\x00\x7f"), "\\x00\\x7f");
});
