/**
 * The settings table: the README's configuration table says what the table
 * says (both ways), `--help` lists every setting, and every documented
 * default is the value the server really uses.
 */

import assert from "node:assert/strict";
import { parseConfig, type ServerConfig } from "../../lib/server/config.ts";
import {
  ENV_VARS,
  type Setting,
  SETTINGS,
  shownDefault,
  USAGE,
} from "../../lib/server/settings.ts";

const ROWS: Setting<unknown>[] = Object.values(SETTINGS);

/** A row of the README table, cells trimmed. */
interface DocRow {
  variable: string;
  flag: string;
  default: string;
  meaning: string;
}

/** The Markdown table under "## Configuration" in README.md. */
async function readmeTable(): Promise<DocRow[]> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const section = readme.split(/^## /m).find((part) => part.startsWith("Configuration\n"));
  assert.ok(section, 'README.md has a "## Configuration" section');
  const lines = section.split("\n").filter((line) => line.startsWith("|"));
  const cells = (line: string) => line.slice(1, -1).split(" | ").map((cell) => cell.trim());
  assert.deepEqual(cells(lines[0]), ["variable", "flag", "default", "meaning"]);
  assert.match(lines[1], /^\|[-| ]+\|$/, "a separator line under the header");
  return lines.slice(2).map((line) => {
    const [variable, flag, defaultText, meaning, ...rest] = cells(line);
    assert.deepEqual(rest, [], `four cells in ${line}`);
    return { variable, flag, default: defaultText, meaning };
  });
}

/** The README row a setting should have. */
function documented(setting: Setting<unknown>): DocRow {
  const flags = [
    ...(setting.flag === undefined ? [] : [`\`--${setting.flag}\``]),
    ...(setting.positional ? [`\`${setting.env}\` arg`] : []),
  ];
  return {
    variable: `\`${setting.env}\``,
    flag: flags.join(", "),
    default: shownDefault(setting),
    meaning: setting.help,
  };
}

Deno.test("every setting has a README row saying the same, in the same order", async () => {
  const table = await readmeTable();
  assert.deepEqual(table.slice(0, ROWS.length), ROWS.map(documented));
});

Deno.test("every README configuration row is a setting", async () => {
  const table = await readmeTable();
  assert.deepEqual(table.map((row) => row.variable), ENV_VARS.map((name) => `\`${name}\``));
});

Deno.test("the variables the server reads are exactly the table's, each once", () => {
  assert.deepEqual(ENV_VARS, Object.keys(SETTINGS));
  assert.equal(new Set(ENV_VARS).size, ENV_VARS.length);
  const flags = ROWS.flatMap((setting) => setting.flag ?? []);
  assert.equal(new Set(flags).size, flags.length, "no flag is used twice");
});

Deno.test("--help names every variable and every flag with its default", () => {
  const lines = USAGE.split("\n");
  for (const setting of ROWS) {
    const first = lines.findIndex((line) =>
      setting.flag === undefined
        ? line.trimStart().startsWith(`${setting.env} `)
        : line.includes(`--${setting.flag} `)
    );
    assert.ok(first !== -1, `--help lists ${setting.env}`);
    // The entry goes on over the lines indented past its first.
    let end = first + 1;
    while (lines[end]?.startsWith(" ".repeat(6))) end++;
    const entry = lines.slice(first, end).map((line) => line.trim()).join(" ");
    assert.ok(entry.includes(shownDefault(setting).replaceAll("`", "")), entry);
  }
});

Deno.test("--help fits in 80 columns", () => {
  for (const line of USAGE.split("\n")) assert.ok(line.length <= 80, `${line.length}: ${line}`);
});

Deno.test("every written default parses with its own setting's parser", () => {
  for (const setting of ROWS) {
    if (setting.default !== undefined) setting.parse(setting.default);
  }
});

Deno.test("the defaults shown for composed settings are the values the server uses", () => {
  const parsed = parseConfig([], {});
  assert.equal(parsed.kind, "run");
  const config = (parsed as { config: ServerConfig }).config;
  const shown = (setting: Setting<unknown>) => shownDefault(setting).replaceAll("`", "");
  assert.equal(shown(SETTINGS.TRUSTED_NETWORKS), config.trustedNetworks);
  assert.equal(shown(SETTINGS.HISTORY_REPLAY), "all kept");
  assert.equal(config.historyReplay, config.historyLimit);
  const withHost = parseConfig([], { REDIS_HOST: "redis" });
  assert.equal(withHost.kind, "run");
  const redisUrl = (withHost as { config: ServerConfig }).config.redis?.url;
  assert.equal(redisUrl, `redis://redis:${shown(SETTINGS.REDIS_PORT)}`);
});
