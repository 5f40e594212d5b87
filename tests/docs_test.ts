/**
 * The README's module map is the newcomer's index of the code: it must name
 * every module under lib/, and nothing that is gone.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

async function modulesUnder(dir: URL, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) {
      found.push(...await modulesUnder(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`));
    } else if (entry.name.endsWith(".ts")) {
      found.push(`${prefix}${entry.name}`);
    }
  }
  return found;
}

Deno.test("the README's module map lists exactly the modules under lib/", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const listed = [...readme.matchAll(/^\| `(lib\/[^`]+\.ts)` +\|/gm)].map((match) => match[1]);
  assert.equal(new Set(listed).size, listed.length, "a module is listed twice");
  const modules = await modulesUnder(new URL("lib/", ROOT), "lib/");
  assert.deepEqual([...listed].sort(), modules.sort());
});
