/**
 * A strict parser of the Prometheus text format (version 0.0.4) for tests:
 * it reads rendered metrics back the way a scraper would, and fails the test
 * on any line it does not understand.
 *
 * @module
 */

import assert from "node:assert/strict";

/** One sample line: a series name, its labels and its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: HELP and TYPE per metric name, and every sample in order. */
export interface Exposition {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

/** Parses `text`, asserting that every line is a valid HELP, TYPE or sample line. */
export function parse(text: string): Exposition {
  assert.ok(text === "" || text.endsWith("\n"), "output ends with a line feed");
  const result: Exposition = { help: new Map(), type: new Map(), samples: [] };
  for (const line of text.split("\n").slice(0, -1)) {
    let match = line.match(/^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/);
    if (match) {
      assert.ok(!result.help.has(match[1]), `one HELP line for ${match[1]}`);
      result.help.set(match[1], match[2].replace(/\\(n|\\)/g, (_, c) => c === "n" ? "\n" : "\\"));
      continue;
    }
    match = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/);
    if (match) {
      assert.ok(!result.type.has(match[1]), `one TYPE line for ${match[1]}`);
      result.type.set(match[1], match[2]);
      continue;
    }
    match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(match, `a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    let rest = match[2] ?? "";
    while (rest !== "") {
      const label = rest.match(/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/);
      assert.ok(label, `labels of ${JSON.stringify(line)}`);
      labels[label[1]] = label[2].replace(/\\([\\"n])/g, (_, c) => c === "n" ? "\n" : c);
      rest = rest.slice(label[0].length);
    }
    const raw = match[3];
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    assert.ok(raw === "NaN" || !Number.isNaN(value), `a number: ${raw}`);
    result.samples.push({ name: match[1], labels, value });
  }
  return result;
}

/** The value of the one sample named `name` with exactly `labels`; asserts there is one. */
export function sample(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = exposition.samples.filter((s) =>
    s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)
  );
  assert.equal(found.length, 1, `exactly one sample ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}
