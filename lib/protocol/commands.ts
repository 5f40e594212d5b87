/**
 * The chat commands, in one table: the words that invoke them, what a typed
 * line means, and the help text listing them. The server's text mode parses
 * a client's lines with {@linkcode parseInput} and answers `/help` with
 * {@linkcode COMMAND_HELP}; the project's client does the same with what its user
 * types (in JSON mode the server treats every text as a message, so the
 * client interprets commands itself). Either way `//text` sends `/text`,
 * and any other line starting with `/` is refused rather than sent by
 * mistake.
 *
 * It only interprets text: no I/O, no sanitising (callers clean lines from
 * the network first), and no wire format (`/help` lines get their `* ` in
 * the text dialect).
 *
 * @module
 */

/** One command a user can type. */
export interface Command {
  /** What it asks for. */
  readonly type: "quit" | "who" | "help";
  /** The lines that invoke it, the usual one first. */
  readonly words: readonly string[];
  /** What it does, as the help says it. */
  readonly does: string;
}

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  { type: "who", words: ["/who"], does: "who is online" },
  { type: "help", words: ["/help"], does: "this list" },
  { type: "quit", words: ["/quit", "exit"], does: "leave the chat" },
];

/** The meaning of one typed line. */
export type Input =
  | { type: "message"; text: string }
  | { type: Command["type"] }
  | { type: "unknown"; command: string }
  | { type: "empty" };

// Typed twice, sent once: the way to send a text that starts with "/".
const ESCAPE = "//";

const USAGE_COLUMN = 14;

/** One line per command, and one for sending a leading `/`: the words, then what it does. */
export const COMMAND_USAGE: readonly string[] = [
  ...COMMANDS.map((command) => `${command.words.join(", ").padEnd(USAGE_COLUMN)}${command.does}`),
  `${`${ESCAPE}text`.padEnd(USAGE_COLUMN)}send text that starts with /`,
];

/** The answer to `/help`: the commands, then what any other line does. */
export const COMMAND_HELP: readonly string[] = [
  "commands:",
  ...COMMAND_USAGE.map((line) => `  ${line}`),
  "anything else is sent to everyone",
];

const BY_WORD: ReadonlyMap<string, Command["type"]> = new Map(
  COMMANDS.flatMap((command) => command.words.map((word) => [word, command.type] as const)),
);

/**
 * Interprets one typed line.
 *
 * @example
 * ```ts
 * parseInput("hello"); // { type: "message", text: "hello" }
 * parseInput("//etc"); // { type: "message", text: "/etc" }
 * parseInput("exit"); // { type: "quit" }
 * parseInput("/nope x"); // { type: "unknown", command: "/nope" }
 * ```
 */
export function parseInput(line: string): Input {
  const text = line.trim();
  if (text === "") return { type: "empty" };
  const command = BY_WORD.get(text);
  if (command) return { type: command };
  if (text.startsWith(ESCAPE)) return { type: "message", text: text.slice(1) };
  if (text.startsWith("/")) return { type: "unknown", command: text.split(/\s/, 1)[0] };
  return { type: "message", text };
}

/**
 * What to tell someone who typed an unknown command.
 *
 * @example
 * ```ts
 * unknownCommandText("/nope"); // "unknown command /nope; /help lists them, // sends a leading /"
 * ```
 */
export function unknownCommandText(command: string): string {
  return `unknown command ${command}; /help lists them, ${ESCAPE} sends a leading /`;
}
