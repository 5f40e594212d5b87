/**
 * A small leveled logger writing one human-readable line per entry to
 * standard error. Callers never pass passwords or message text to it.
 *
 * @module
 */

/** Log severities, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Where log lines go. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Creates a logger that writes entries at `level` and above.
 *
 * @param write Receives each formatted line; standard error by default.
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const at = (entryLevel: LogLevel) => (message: string) => {
    if (RANK[entryLevel] < RANK[level]) return;
    write(`${new Date().toISOString()} ${entryLevel.toUpperCase().padEnd(5)} ${message}`);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
