/**
 * The generic Prometheus registry: counters, labelled counters, gauges and
 * histograms, checked by parsing the rendered text back the way a scraper
 * would.
 */

import assert from "node:assert/strict";
import {
  Counter,
  escapeLabelValue,
  Gauge,
  Histogram,
  LabeledCounter,
  MetricsError,
  Registry,
} from "../../lib/ops/registry.ts";
import { parse, sample } from "../helpers/prometheus_text.ts";

Deno.test("an empty registry renders nothing", () => {
  assert.equal(new Registry().render(), "");
});

Deno.test("a counter renders its HELP, TYPE and total exactly", () => {
  const registry = new Registry();
  const counter = registry.counter({ name: "app_requests_total", help: "Requests served." });
  counter.inc();
  counter.inc(2.5);
  assert.equal(
    registry.render(),
    "# HELP app_requests_total Requests served.\n" +
      "# TYPE app_requests_total counter\n" +
      "app_requests_total 3.5\n",
  );
});

Deno.test("a counter refuses to go down or to be increased by NaN", () => {
  const counter = new Counter({ name: "c_total", help: "c" });
  assert.throws(() => counter.inc(-1), MetricsError);
  assert.throws(() => counter.inc(NaN), MetricsError);
  assert.equal(counter.value, 0);
});

Deno.test("HELP text keeps one line: backslashes and line feeds are escaped", () => {
  const registry = new Registry();
  registry.counter({ name: "x_total", help: 'a\\b\nc "quoted"' });
  const text = registry.render();
  assert.equal(text.split("\n")[0], '# HELP x_total a\\\\b\\nc "quoted"');
  assert.equal(parse(text).help.get("x_total"), 'a\\b\nc "quoted"');
});

Deno.test("label values with backslash, quote and newline are escaped and parse back unchanged", () => {
  const registry = new Registry();
  const counter = registry.labeledCounter({
    name: "odd_total",
    help: "Odd labels.",
    labelNames: ["reason", "who"],
  });
  const nasty = 'a\\b"c\nd} x="y';
  counter.labels({ reason: nasty, who: "plain" }).inc(4);
  counter.labels({ reason: "", who: "é ✓" }).inc();
  const text = registry.render();
  assert.equal(text.split("\n").length, 5, "HELP, TYPE and two samples, each on one line");
  const parsed = parse(text);
  assert.equal(sample(parsed, "odd_total", { reason: nasty, who: "plain" }), 4);
  assert.equal(sample(parsed, "odd_total", { reason: "", who: "é ✓" }), 1);
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

Deno.test("a labelled counter gives the same child for the same labels, in first-use order", () => {
  const counter = new LabeledCounter({ name: "r_total", help: "r", labelNames: ["reason"] });
  const full = counter.labels({ reason: "server_full" });
  counter.labels({ reason: "per_ip" }).inc();
  full.inc();
  assert.equal(counter.labels({ reason: "server_full" }), full);
  full.inc();
  const out: string[] = [];
  counter.renderSamples(out);
  assert.deepEqual(out, ['r_total{reason="server_full"} 2', 'r_total{reason="per_ip"} 1']);
});

Deno.test("a labelled counter rejects missing or extra labels", () => {
  const counter = new LabeledCounter({ name: "r_total", help: "r", labelNames: ["reason"] });
  assert.throws(() => counter.labels({} as { reason: string }), MetricsError);
  assert.throws(
    () => counter.labels({ reason: "a", other: "b" } as { reason: string }),
    MetricsError,
  );
});

Deno.test("invalid metric and label names are refused when defined", () => {
  for (const name of ["", "1abc", "has-dash", "has space", "é"]) {
    assert.throws(() => new Counter({ name, help: "h" }), MetricsError, name);
    assert.throws(() => new Gauge({ name, help: "h" }), MetricsError, name);
    assert.throws(() => new Histogram({ name, help: "h", buckets: [1] }), MetricsError, name);
  }
  for (const label of ["", "1a", "a-b", "__reserved"]) {
    assert.throws(
      () => new LabeledCounter({ name: "ok_total", help: "h", labelNames: [label] }),
      MetricsError,
      label,
    );
  }
  assert.throws(
    () => new LabeledCounter({ name: "ok_total", help: "h", labelNames: [] }),
    MetricsError,
  );
  new Counter({ name: "ok:colon_total", help: "colons are allowed in metric names" });
});

Deno.test("two metrics with the same name cannot be registered", () => {
  const registry = new Registry();
  registry.counter({ name: "dup", help: "first" });
  assert.throws(() => registry.gauge({ name: "dup", help: "second" }), MetricsError);
});

Deno.test("a gauge can be set, raised and lowered, or read live from a callback", () => {
  const registry = new Registry();
  const gauge = registry.gauge({ name: "level", help: "A level." });
  gauge.set(10);
  gauge.inc();
  gauge.dec(3);
  assert.equal(sample(parse(registry.render()), "level"), 8);
  let live = 3;
  gauge.setCollect(() => live);
  assert.equal(sample(parse(registry.render()), "level"), 3);
  live = 42;
  assert.equal(sample(parse(registry.render()), "level"), 42);
  assert.equal(parse(registry.render()).type.get("level"), "gauge");
  gauge.setCollect(undefined);
  assert.equal(gauge.value, 8);
});

Deno.test("special values render as Prometheus spells them", () => {
  const registry = new Registry();
  const gauge = registry.gauge({ name: "g", help: "g" });
  for (const [value, text] of [[Infinity, "+Inf"], [-Infinity, "-Inf"], [NaN, "NaN"]] as const) {
    gauge.set(value);
    assert.equal(registry.render().split("\n")[2], `g ${text}`);
  }
});

Deno.test("histogram buckets are cumulative, +Inf equals the count, and the sum adds up", () => {
  const registry = new Registry();
  const histogram = registry.histogram({
    name: "latency_seconds",
    help: "Latency.",
    buckets: [0.01, 0.1, 1],
  });
  // A value equal to a bound belongs to that bucket (le is "less or equal").
  const observations = [0.005, 0.01, 0.05, 0.1, 0.5, 2, 3, 0];
  for (const value of observations) histogram.observe(value);
  const text = registry.render();
  assert.equal(
    text,
    [
      "# HELP latency_seconds Latency.",
      "# TYPE latency_seconds histogram",
      'latency_seconds_bucket{le="0.01"} 3',
      'latency_seconds_bucket{le="0.1"} 5',
      'latency_seconds_bucket{le="1"} 6',
      'latency_seconds_bucket{le="+Inf"} 8',
      `latency_seconds_sum ${observations.reduce((a, b) => a + b)}`,
      "latency_seconds_count 8",
      "",
    ].join("\n"),
  );
  const parsed = parse(text);
  const buckets = parsed.samples.filter((s) => s.name === "latency_seconds_bucket");
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(buckets[i].value >= buckets[i - 1].value, "never decreasing");
  }
  assert.equal(sample(parsed, "latency_seconds_bucket", { le: "+Inf" }), 8);
  assert.equal(sample(parsed, "latency_seconds_count"), 8);
  assert.ok(Math.abs(sample(parsed, "latency_seconds_sum") - 5.665) < 1e-9);
  assert.equal(histogram.count, 8);
});

Deno.test("an unused histogram renders every bucket at zero", () => {
  const registry = new Registry();
  registry.histogram({ name: "h", help: "h", buckets: [1, 2] });
  const parsed = parse(registry.render());
  assert.deepEqual(parsed.samples.map((s) => s.value), [0, 0, 0, 0, 0]);
});

Deno.test("histogram buckets must be finite and increasing; a trailing Infinity is implied", () => {
  for (const buckets of [[], [2, 1], [1, 1], [NaN], [1, Infinity, 2]]) {
    assert.throws(() => new Histogram({ name: "h", help: "h", buckets }), MetricsError);
  }
  assert.deepEqual(new Histogram({ name: "h", help: "h", buckets: [1, Infinity] }).buckets, [1]);
  assert.throws(() => new Histogram({ name: "h", help: "h", buckets: [1] }).observe(NaN));
});
