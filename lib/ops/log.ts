/**
 * A small leveled logger writing one entry per line to standard error, either
 * human-readable text (the default) or JSON lines for log collectors.
 *
 * Text: `2025-01-01T00:00:00.000Z INFO  alice joined remote=10.0.0.7:51234`.
 * JSON: `{"ts":"2025-01-01T00:00:00.000Z","level":"info","msg":"alice joined","remote":"..."}`.
 *
 * One entry is always one line: in text, line breaks and other control or
 * invisible formatting characters in the message and field values are
 * written as escapes (`\n`, `\x1b`, `\u202e`), so a user name or an error
 * message from the network cannot forge a log entry or repaint a terminal;
 * JSON escapes them as JSON does.
 *
 * The rule for callers: no password and no message text is logged unless
 * `LOG_LEVEL=debug`. Passwords are never logged at any level; message text
 * only in `debug` entries. This module cannot tell what a string holds, so
 * the rule is kept where entries are written.
 *
 * It does not rotate files, sample, or buffer: the platform (Docker,
 * Kubernetes) collects standard error.
 *
 * @module
 */

/** Log severities, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The output formats {@linkcode createLogger} supports. */
export const LOG_FORMATS = ["text", "json"] as const;

/** One of {@linkcode LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

/**
 * Structured values attached to an entry. Undefined values are left out. The
 * keys `ts`, `level` and `msg` are reserved: a field with one of those names
 * is written as `field.ts` (and so on) instead of replacing the entry's own.
 */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** Where log entries go. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** `text` (default) or `json`. */
  format?: LogFormat;
  /** Receives each formatted line, without a line feed; standard error by default. */
  write?: (line: string) => void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const RESERVED = new Set(["ts", "level", "msg"]);

// C0 (tab included: an entry is one line of single-space-separated parts), DEL,
// C1, the Unicode line separators, and invisible formatting characters such as
// bidi overrides, except the joiners text needs (as in sanitize.ts). Matching
// control characters is the point of this expression.
// deno-lint-ignore no-control-regex
const UNSAFE_TEXT = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]|(?![\u200C\u200D])\p{Cf}/gu;
// JSON.stringify escapes C0 already; these are the rest, which JSON allows raw
// but which terminals and some line splitters do not treat as plain text.
const UNSAFE_JSON = /[\u007F-\u009F\u2028\u2029]|(?![\u200C\u200D])\p{Cf}/gu;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.codePointAt(0)!;
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Makes `text` safe to write as part of one text log line: control and
 * invisible formatting characters become visible escapes.
 *
 * @example
 * ```ts
 * escapeLogText("bob\n2025-01-01T00:00:00.000Z INFO  admin joined");
 * // "bob\\n2025-01-01T00:00:00.000Z INFO  admin joined"
 * ```
 */
export function escapeLogText(text: string): string {
  return text.replace(UNSAFE_TEXT, escapeChar);
}

function jsonEscape(c: string): string {
  return `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`;
}

// A bare word stays bare; anything that would be ambiguous next to other
// key=value pairs (spaces, quotes, '=', empty) is quoted JSON-style.
const BARE = /^[^\s"=\\]+$/;

function textValue(value: string | number | boolean): string {
  if (typeof value !== "string") return String(value);
  if (BARE.test(value)) return escapeLogText(value);
  return escapeLogText(JSON.stringify(value));
}

function textKey(key: string): string {
  return BARE.test(key) ? escapeLogText(key) : escapeLogText(JSON.stringify(key));
}

/** Formats one entry as a text line. */
function formatText(level: LogLevel, message: string, fields: LogFields | undefined): string {
  let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${
    escapeLogText(message)
  }`;
  if (fields) {
    for (const key in fields) {
      const value = fields[key];
      if (value !== undefined) line += ` ${textKey(key)}=${textValue(value)}`;
    }
  }
  return line;
}

/** Formats one entry as a JSON line. */
function formatJson(level: LogLevel, message: string, fields: LogFields | undefined): string {
  const entry: Record<string, string | number | boolean> = {
    ts: new Date().toISOString(),
    level,
    msg: message,
  };
  if (fields) {
    for (const key in fields) {
      const value = fields[key];
      if (value === undefined) continue;
      entry[RESERVED.has(key) ? `field.${key}` : key] = value;
    }
  }
  return JSON.stringify(entry).replace(UNSAFE_JSON, jsonEscape);
}

/**
 * Creates a logger that writes entries at `level` and above.
 *
 * The second argument may also be the `write` function alone, as before
 * formats existed.
 *
 * @example
 * ```ts
 * const logger = createLogger("info", { format: "json" });
 * logger.info("client refused", { remote: "10.0.0.7:51234", reason: "server_full" });
 * logger.debug("not written at info");
 * ```
 */
export function createLogger(
  level: LogLevel,
  options: LoggerOptions | ((line: string) => void) = {},
): Logger {
  const { format = "text", write = (line: string) => console.error(line) } =
    typeof options === "function" ? { write: options } : options;
  if (!LOG_FORMATS.includes(format)) {
    throw new RangeError(`unknown log format "${format}"; expected ${LOG_FORMATS.join(" or ")}`);
  }
  const formatEntry = format === "json" ? formatJson : formatText;
  const at = (entryLevel: LogLevel) => {
    // A level below the threshold costs one call and nothing else.
    if (RANK[entryLevel] < RANK[level]) return () => {};
    return (message: string, fields?: LogFields) => write(formatEntry(entryLevel, message, fields));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
