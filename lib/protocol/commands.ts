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
 * The account commands (`/register`, `/login`, `/passwd`, `/unregister`)
 * take passwords as their words; the client asks for the ones left out
 * without echoing them and keeps such lines out of its history
 * ({@linkcode isAccountLine}).
 *
 * It only interprets text: no I/O, no sanitising (callers clean lines from
 * the network first), and no wire format (`/help` lines get their `* ` in
 * the text dialect).
 *
 * @module
 */

/** The account commands: each takes passwords, and no other words. */
export type AccountAction = "register" | "login" | "passwd" | "unregister";

/** One command a user can type. */
export interface Command {
  /** What it asks for. */
  readonly type: "quit" | "who" | "help" | AccountAction;
  /** The lines that invoke it (its first word, when it takes passwords), the usual one first. */
  readonly words: readonly string[];
  /** The passwords it takes, named as the help shows them; none for most commands. */
  readonly passwords?: readonly string[];
  /** What it does, as the help says it. */
  readonly does: string;
}

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  { type: "who", words: ["/who"], does: "who is online" },
  { type: "help", words: ["/help"], does: "this list" },
  { type: "quit", words: ["/quit", "exit"], does: "leave the chat" },
  { type: "register", words: ["/register"], passwords: ["PASSWORD"], does: "register your name" },
  {
    type: "login",
    words: ["/login"],
    passwords: ["PASSWORD"],
    does: "prove a registered name is yours",
  },
  { type: "passwd", words: ["/passwd"], passwords: ["OLD", "NEW"], does: "change your password" },
  {
    type: "unregister",
    words: ["/unregister"],
    passwords: ["PASSWORD"],
    does: "give your registered name up",
  },
];

/** The meaning of one typed line. */
export type Input =
  | { type: "message"; text: string }
  | { type: "quit" | "who" | "help" }
  /** `passwords` as typed: fewer than the command takes when some were left out. */
  | { type: "account"; action: AccountAction; passwords: string[] }
  /** A command with more words than it takes; `usage` says how it goes. */
  | { type: "usage"; usage: string }
  | { type: "unknown"; command: string }
  | { type: "empty" };

// Typed twice, sent once: the way to send a text that starts with "/".
const ESCAPE = "//";

const USAGE_COLUMN = 20;

function synopsis(command: Command): string {
  return [command.words.join(", "), ...command.passwords ?? []].join(" ");
}

/** One line per command, and one for sending a leading `/`: the words, then what it does. */
export const COMMAND_USAGE: readonly string[] = [
  ...COMMANDS.map((command) => `${synopsis(command).padEnd(USAGE_COLUMN)}${command.does}`),
  `${`${ESCAPE}text`.padEnd(USAGE_COLUMN)}send text that starts with /`,
];

const BY_ACTION: ReadonlyMap<string, Command> = new Map(
  COMMANDS.filter((command) => command.passwords).map((command) => [command.type, command]),
);

/** The passwords an account command takes, by name, e.g. `["OLD", "NEW"]` for `passwd`. */
export function passwordsOf(action: AccountAction): readonly string[] {
  return BY_ACTION.get(action)!.passwords!;
}

/**
 * How an account command is typed.
 *
 * @example
 * ```ts
 * accountUsage("passwd"); // "usage: /passwd OLD NEW"
 * ```
 */
export function accountUsage(action: AccountAction): string {
  return `usage: ${synopsis(BY_ACTION.get(action)!)}`;
}

/** The answer to `/help`: the commands, then what any other line does. */
export const COMMAND_HELP: readonly string[] = [
  "commands:",
  ...COMMAND_USAGE.map((line) => `  ${line}`),
  "anything else is sent to everyone",
];

const BY_WORD: ReadonlyMap<string, Command> = new Map(
  COMMANDS.flatMap((command) => command.words.map((word) => [word, command] as const)),
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
 * parseInput("/login"); // { type: "account", action: "login", passwords: [] }
 * ```
 */
export function parseInput(line: string): Input {
  const text = line.trim();
  if (text === "") return { type: "empty" };
  const simple = BY_WORD.get(text);
  if (simple && !simple.passwords) return { type: simple.type as "quit" | "who" | "help" };
  // Most lines are messages: only a line starting with a slash is split into words.
  if (!text.startsWith("/")) return { type: "message", text };
  if (text.startsWith(ESCAPE)) return { type: "message", text: text.slice(1) };
  const [first, ...rest] = text.split(/\s+/);
  const account = BY_WORD.get(first);
  if (!account?.passwords) return { type: "unknown", command: first };
  const action = account.type as AccountAction;
  if (rest.length > account.passwords.length) {
    return { type: "usage", usage: accountUsage(action) };
  }
  return { type: "account", action, passwords: rest };
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

/**
 * Whether a typed line is an account command, which may carry passwords:
 * such a line is never kept in the client's line history.
 */
export function isAccountLine(line: string): boolean {
  const input = parseInput(line);
  return input.type === "account" ||
    (input.type === "usage" && BY_ACTION.has(line.trim().split(/\s+/, 1)[0].slice(1)));
}
