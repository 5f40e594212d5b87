import { sleep } from "../../lib/util/deadline.ts";
/**
 * A real pseudo-terminal for tests, provided by tmux: a detached session of
 * a fixed size running one shell command, keys sent as a user would type
 * them, and the screen and cursor read back.
 *
 * Each session has its own tmux server on its own socket in a temporary
 * directory (`tmux -S`), started with no configuration file; disposing of it
 * kills that server only and deletes the directory. Needs
 * `--allow-run=tmux` and write access to the temporary directory.
 *
 * @module
 */

/** Options for {@linkcode TmuxSession.start}. */
export interface TmuxOptions {
  /** Columns; default 100. */
  width?: number;
  /** Rows; default 30. */
  height?: number;
  /**
   * The whole environment of the command; tmux adds TERM, and this helper
   * `TEST_DIR`, the session's temporary directory.
   */
  env: Record<string, string>;
}

/** Quotes `word` for `sh`. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A detached tmux session running one command. */
export class TmuxSession {
  /** A temporary directory, deleted with the session; handy for files the command writes. */
  readonly dir: string;
  readonly #socket: string;
  readonly #env: Record<string, string>;

  private constructor(dir: string, env: Record<string, string>) {
    this.dir = dir;
    this.#socket = `${dir}/tmux.sock`;
    this.#env = { ...env, TEST_DIR: dir };
  }

  /**
   * Starts `command` (a shell command line) in a new session. The pane stays
   * open after the command ends so its last screen can still be read. The
   * command finds the session's directory in `$TEST_DIR`.
   */
  static async start(command: string, options: TmuxOptions): Promise<TmuxSession> {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmux-" });
    const session = new TmuxSession(dir, options.env);
    const width = String(options.width ?? 100);
    const height = String(options.height ?? 30);
    // One tmux invocation, so the options apply before the command can end.
    await session.tmux([
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-s",
      "test",
      "-x",
      width,
      "-y",
      height,
      command,
      ";",
      "set-option",
      "-g",
      "status",
      "off",
      ";",
      "set-option",
      "-g",
      "remain-on-exit",
      "on",
    ]);
    return session;
  }

  /** Runs `tmux` against this session's server and returns its stdout. */
  async tmux(args: string[]): Promise<string> {
    const output = await new Deno.Command("tmux", {
      // -u: UTF-8 whatever the locale, so wide characters come back as they are.
      args: ["-u", "-S", this.#socket, ...args],
      clearEnv: true,
      env: { ...this.#env, TERM: "xterm-256color", LANG: "C.UTF-8" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    if (!output.success) throw new Error(`tmux ${args.join(" ")} failed: ${stderr}`);
    return new TextDecoder().decode(output.stdout);
  }

  /** Types `text` literally. */
  async type(text: string): Promise<void> {
    await this.tmux(["send-keys", "-t", "test", "-l", text]);
  }

  /** Presses keys by tmux name: `Enter`, `Left`, `C-d`, `BSpace`, `Home`... */
  async press(...keys: string[]): Promise<void> {
    await this.tmux(["send-keys", "-t", "test", ...keys]);
  }

  /** The screen as text, one string per row, trailing spaces removed. */
  async screen(): Promise<string[]> {
    const text = await this.tmux(["capture-pane", "-p", "-t", "test"]);
    return text.replace(/\n$/, "").split("\n").map((row) => row.trimEnd());
  }

  /** The screen with its colour and style escape sequences (`capture-pane -e`). */
  async styledScreen(): Promise<string> {
    return await this.tmux(["capture-pane", "-p", "-e", "-t", "test"]);
  }

  /** The cursor position, 0-based. */
  async cursor(): Promise<{ x: number; y: number }> {
    const [x, y] =
      (await this.tmux(["display-message", "-p", "-t", "test", "#{cursor_x} #{cursor_y}"]))
        .trim().split(" ").map(Number);
    return { x, y };
  }

  /** The screen rows with content, without the empty rows below. */
  async rows(): Promise<string[]> {
    const rows = await this.screen();
    while (rows.length > 0 && rows.at(-1) === "") rows.pop();
    return rows;
  }

  /** Waits until `test` holds for the screen; throws with the screen after the timeout. */
  async until(
    test: (rows: string[]) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const rows = await this.rows();
      if (test(rows)) return rows;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; screen:\n${rows.join("\n")}`);
      }
      await sleep(50);
    }
  }

  /** Kills this session's tmux server and deletes the directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.tmux(["kill-server"]);
    } catch {
      // Already gone.
    }
    await Deno.remove(this.dir, { recursive: true });
  }
}
