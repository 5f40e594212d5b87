/**
 * How each setting's text becomes its value: the parsers the settings table
 * (`settings.ts`) names, each throwing {@linkcode InvalidValue} with a
 * sentence a user can act on. They know nothing of where the text came from;
 * `config.ts` adds the variable or flag to the error.
 *
 * @module
 */

/**
 * A setting's text that its parser cannot use; `config.ts` reports
 * it as a `ConfigError` naming where the text came from.
 */
export class InvalidValue extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidValue";
  }
}

/** A whole number from `min` to `max`. */
export function whole(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = Number(raw.trim());
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
      throw new InvalidValue(`expected a whole number from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
}

/** A decimal number from `min` to `max`; `what` names it in errors. */
export function decimal(min: number, max: number, what: string): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw.trim()) || value < min || value > max) {
      throw new InvalidValue(`expected ${what} from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
}

/** Seconds as written, milliseconds as used. */
export function seconds(min: number, max: number): (raw: string) => number {
  const parse = decimal(min, max, "seconds");
  return (raw) => Math.round(parse(raw) * 1000);
}

/** One of `choices`, exactly. */
export function oneOf<T extends string>(...choices: T[]): (raw: string) => T {
  return (raw) => {
    if (!(choices as string[]).includes(raw)) {
      throw new InvalidValue(
        `expected ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}, got "${raw}"`,
      );
    }
    return raw as T;
  };
}

/** Any text, as given. */
export const text = (raw: string): string => raw;

/** One Redis node of a seed list. */
export interface HostPort {
  host: string;
  port: number;
}

/** A comma-separated list of `host:port` (IPv6 in brackets). */
export function hostPorts(raw: string): HostPort[] {
  return raw.split(",").map((part) => {
    const match = part.trim().match(/^([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):(\d+)$/);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      throw new InvalidValue(`expected host:port[,host:port...], got "${part}"`);
    }
    return { host: match[1].replace(/^\[|\]$/g, ""), port };
  });
}

/** A Sentinel master name. */
export function masterName(raw: string): string {
  const name = raw.trim();
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
    throw new InvalidValue(`"${name}" is not a master name`);
  }
  return name;
}

/** A port, or `off` for none (`null`). */
export function portOrOff(raw: string): number | null {
  return raw.trim() === "off" ? null : whole(1, 65535)(raw);
}

/** A Redis key name for the history: 1-200 safe characters. */
export function historyKey(raw: string): string {
  if (!/^[A-Za-z0-9_:.-]{1,200}$/.test(raw)) {
    throw new InvalidValue(`expected 1-200 letters, digits or _:.- characters, got "${raw}"`);
  }
  return raw;
}
