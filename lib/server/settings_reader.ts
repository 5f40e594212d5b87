/**
 * Reading the settings of one start: the environment variables, then the
 * flags (and the bare port argument) over them, each value parsed by its row
 * of the settings table when first asked for, and every problem reported as
 * a {@linkcode ConfigError} naming the variable or flag it came from.
 *
 * It does not combine settings; `config.ts` does.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { InvalidValue } from "./setting_parsers.ts";
import { type Setting, type SettingName, SETTINGS, type SettingValue } from "./settings.ts";

/** A configuration value that cannot be used, with the setting it came from. */
export class ConfigError extends Error {
  /** The variable or flag that holds the bad value. */
  readonly setting: string;

  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = "ConfigError";
    this.setting = setting;
  }
}

/** Where a setting's text came from, and the text. */
interface Given {
  /** The variable, `--flag` or `PORT argument`, as errors name it. */
  source: string;
  raw: string;
}

/**
 * The settings of one start: environment variables, overridden by flags
 * (and the bare port argument), each parsed when first asked for so that
 * errors come in the order the configuration is composed.
 *
 * @example
 * ```ts
 * const settings = Settings.read(["--port", "7000"], { PORT: "6001" });
 * settings.value("PORT"); // 7000
 * settings.value("REDIS_URL"); // undefined
 * ```
 */
export class Settings {
  /** Whether `--help` or `-h` was given (nothing else is then checked). */
  readonly help: boolean;
  readonly #given: Map<SettingName, Given>;

  private constructor(help: boolean, given: Map<SettingName, Given>) {
    this.help = help;
    this.#given = given;
  }

  /**
   * Reads `args` (without the program name) and `env`. An empty variable
   * counts as unset; variables outside `ENV_VARS` are ignored.
   *
   * @throws {ConfigError} naming `arguments` for an unknown flag or a second positional.
   */
  static read(
    args: readonly string[],
    env: Readonly<Record<string, string | undefined>>,
  ): Settings {
    const names = Object.keys(SETTINGS) as SettingName[];
    let parsed;
    try {
      parsed = parseArgs({
        args: [...args],
        allowPositionals: true,
        strict: true,
        options: {
          help: { type: "boolean", short: "h" },
          ...Object.fromEntries(
            Object.values(SETTINGS as Record<SettingName, Setting<unknown>>)
              .filter((s) => s.flag !== undefined)
              .map((s) => [s.flag!, { type: "string" as const }]),
          ),
        },
      });
    } catch (error) {
      throw new ConfigError("arguments", (error as Error).message);
    }
    if (parsed.values.help) return new Settings(true, new Map());
    if (parsed.positionals.length > 1) {
      throw new ConfigError(
        "arguments",
        `expected at most one PORT argument, got ${parsed.positionals.join(" ")}`,
      );
    }
    const given = new Map<SettingName, Given>();
    for (const name of names) {
      const raw = env[SETTINGS[name].env];
      if (raw !== undefined && raw !== "") given.set(name, { source: SETTINGS[name].env, raw });
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    for (const name of names) {
      const setting: Setting<unknown> = SETTINGS[name];
      if (setting.positional && parsed.positionals.length === 1) {
        given.set(name, { source: `${setting.env} argument`, raw: parsed.positionals[0] });
      }
      const raw = setting.flag === undefined ? undefined : values[setting.flag];
      if (typeof raw === "string") given.set(name, { source: `--${setting.flag}`, raw });
    }
    return new Settings(false, given);
  }

  /** Whether the setting was given (by variable, flag or argument) rather than defaulted. */
  isSet(name: SettingName): boolean {
    return this.#given.has(name);
  }

  /** The variable, flag or argument the setting came from; its variable when defaulted. */
  source(name: SettingName): string {
    return this.#given.get(name)?.source ?? SETTINGS[name].env;
  }

  /**
   * The setting's parsed value, its parsed default when not given, or
   * `undefined` when it has neither.
   *
   * @throws {ConfigError} naming {@linkcode source} when the text is unusable.
   */
  value<N extends SettingName>(name: N): SettingValue<N> | undefined {
    const setting: Setting<SettingValue<N>> = SETTINGS[name] as Setting<SettingValue<N>>;
    const raw = this.#given.get(name)?.raw ?? setting.default;
    if (raw === undefined) return undefined;
    try {
      return setting.parse(raw);
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      throw new ConfigError(this.source(name), error.message);
    }
  }

  /** Like {@linkcode value}, for a setting that always has a default. */
  required<N extends SettingName>(name: N): SettingValue<N> {
    const value = this.value(name);
    if (value === undefined) throw new ConfigError(this.source(name), "is not set");
    return value;
  }
}
