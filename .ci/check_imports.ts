/**
 * Checks the module graph of the entry points (`deno info --json`) against
 * the layout in `docs/architecture.md`: no import cycle, every module of
 * `lib/` inside a layer folder, imports between layers only in the allowed
 * directions, and no module over {@linkcode MAX_LINES} lines.
 *
 * It reads only what the entry points reach: a module nothing imports is
 * not checked (and is dead code). Prints each problem and exits 1 when there
 * is one. Run by `deno task check`.
 *
 * @module
 */

/** Which layers each layer may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  protocol: ["util"],
  ops: ["util"],
  store: ["protocol", "ops", "util"],
  server: ["store", "protocol", "ops", "util"],
  client: ["protocol", "util"],
  web: ["protocol", "util"],
};

/** The longest a module may grow before it is split by concern. */
const MAX_LINES = 400;

const ENTRIES = ["server.ts", "client.ts", "lib/web/app.ts"];

interface Dependency {
  code?: { specifier: string };
  type?: { specifier: string };
}
interface ModuleInfo {
  specifier: string;
  dependencies?: Dependency[];
}

const root = new URL("../", import.meta.url);
const lib = new URL("lib/", root).href;

async function graph(entry: string): Promise<ModuleInfo[]> {
  const output = await new Deno.Command("deno", {
    args: ["info", "--json", new URL(entry, root).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`deno info ${entry} failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout)).modules;
}

const edges = new Map<string, Set<string>>();
for (const entry of ENTRIES) {
  for (const module of await graph(entry)) {
    if (!module.specifier.startsWith(root.href)) continue;
    const targets = edges.get(module.specifier) ?? new Set<string>();
    for (const dependency of module.dependencies ?? []) {
      const target = dependency.code?.specifier ?? dependency.type?.specifier;
      if (target?.startsWith(root.href)) targets.add(target);
    }
    edges.set(module.specifier, targets);
  }
}

const name = (specifier: string) => specifier.slice(root.href.length);
const layerOf = (specifier: string): string | null =>
  specifier.startsWith(lib) ? specifier.slice(lib.length).split("/")[0] : null;
const problems: string[] = [];

for (const [module, targets] of edges) {
  const layer = layerOf(module);
  if (layer !== null && !(layer in ALLOWED)) {
    problems.push(`${name(module)}: not inside a layer folder of lib/`);
  }
  for (const target of targets) {
    const targetLayer = layerOf(target);
    if (layer === null || targetLayer === null || targetLayer === layer) continue;
    if (!ALLOWED[layer]?.includes(targetLayer)) {
      problems.push(
        `${name(module)} imports ${name(target)}: ${layer} may not import ${targetLayer}`,
      );
    }
  }
  if (layer !== null) {
    const lines = (await Deno.readTextFile(new URL(module))).split("\n").length;
    if (lines > MAX_LINES) problems.push(`${name(module)}: ${lines} lines (at most ${MAX_LINES})`);
  }
}

// Tarjan's strongly connected components: any component of more than one
// module, or a module importing itself, is a cycle.
let counter = 0;
const index = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const onStack = new Set<string>();
function visit(module: string): void {
  index.set(module, counter);
  low.set(module, counter);
  counter++;
  stack.push(module);
  onStack.add(module);
  for (const target of edges.get(module) ?? []) {
    if (!index.has(target)) {
      visit(target);
      low.set(module, Math.min(low.get(module)!, low.get(target)!));
    } else if (onStack.has(target)) {
      low.set(module, Math.min(low.get(module)!, index.get(target)!));
    }
  }
  if (low.get(module) !== index.get(module)) return;
  const component: string[] = [];
  let member: string;
  do {
    member = stack.pop()!;
    onStack.delete(member);
    component.push(member);
  } while (member !== module);
  if (component.length > 1 || edges.get(module)?.has(module)) {
    problems.push(`import cycle: ${component.map(name).sort().join(" <-> ")}`);
  }
}
for (const module of edges.keys()) if (!index.has(module)) visit(module);

for (const problem of problems) console.error(problem);
if (problems.length > 0) Deno.exit(1);
console.log(`imports: ${edges.size} modules, no cycle, layers respected`);
