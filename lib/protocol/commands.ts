/**
 * What a line typed into the client means: a message, or one of the
 * client's commands (`/quit`, `exit`, `/who`, `/help`). In JSON mode the
 * server treats every text as a message, so the client interprets commands
 * itself, the same way text mode does: `//text` sends `/text`, and any other
 * line starting with `/` is refused rather than sent by mistake.
 *
 * @module
 */

/** The meaning of one typed line. */
export type Input =
  | { type: "message"; text: string }
  | { type: "quit" }
  | { type: "who" }
  | { type: "help" }
  | { type: "unknown"; command: string }
  | { type: "empty" };

/** The `/help` text, one line per command. */
export const COMMAND_HELP: readonly string[] = [
  "/who          list who is online",
  "/help         show this list",
  "/quit, exit   leave (also Ctrl-D or Ctrl-C)",
  "//text        send a message starting with /",
];

/**
 * Interprets one typed line.
 *
 * @example
 * ```ts
 * parseInput("hello"); // { type: "message", text: "hello" }
 * parseInput("//etc"); // { type: "message", text: "/etc" }
 * parseInput("/who"); // { type: "who" }
 * ```
 */
export function parseInput(line: string): Input {
  const text = line.trim();
  if (text === "") return { type: "empty" };
  if (text === "exit" || text === "/quit") return { type: "quit" };
  if (text === "/who") return { type: "who" };
  if (text === "/help") return { type: "help" };
  if (text.startsWith("//")) return { type: "message", text: text.slice(1) };
  if (text.startsWith("/")) return { type: "unknown", command: text.split(/\s/, 1)[0] };
  return { type: "message", text };
}
