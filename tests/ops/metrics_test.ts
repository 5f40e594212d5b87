/**
 * The Prometheus registry and the chat server's metrics, checked by parsing
 * the rendered text back the way a scraper would.
 */

import assert from "node:assert/strict";
import {
  Counter,
  escapeLabelValue,
  Gauge,
  Histogram,
  LabeledCounter,
  MetricsError,
  REFUSAL_REASONS,
  Registry,
  REJECTION_REASONS,
  ServerMetrics,
  STORE_APPEND_BUCKETS,
} from "../../lib/ops/metrics.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

/** A strict parser of the text format (0.0.4): any line it does not understand fails the test. */
function parse(text: string): Exposition {
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

function sample(exposition: Exposition, name: string, labels: Record<string, string> = {}) {
  const found = exposition.samples.filter((s) =>
    s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)
  );
  assert.equal(found.length, 1, `exactly one sample ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}

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

Deno.test("the server metrics expose every chat_ series, each reason at zero from the start", () => {
  const metrics = new ServerMetrics({ connectedClients: () => 7 });
  const parsed = parse(metrics.render());
  const expected: Record<string, string> = {
    chat_connected_clients: "gauge",
    chat_connections_accepted_total: "counter",
    chat_connections_refused_total: "counter",
    chat_messages_received_total: "counter",
    chat_messages_stored_total: "counter",
    chat_messages_delivered_total: "counter",
    chat_messages_rejected_total: "counter",
    chat_slow_consumers_disconnected_total: "counter",
    chat_flooders_disconnected_total: "counter",
    chat_store_errors_total: "counter",
    chat_store_reconnects_total: "counter",
    chat_store_append_seconds: "histogram",
  };
  assert.deepEqual(Object.fromEntries(parsed.type), expected);
  for (const name of parsed.type.keys()) assert.ok(parsed.help.get(name), `${name} has help`);
  assert.equal(sample(parsed, "chat_connected_clients"), 7);
  for (const reason of REFUSAL_REASONS) {
    assert.equal(sample(parsed, "chat_connections_refused_total", { reason }), 0);
  }
  for (const reason of REJECTION_REASONS) {
    assert.equal(sample(parsed, "chat_messages_rejected_total", { reason }), 0);
  }
  const les = parsed.samples.filter((s) => s.name === "chat_store_append_seconds_bucket")
    .map((s) => s.labels.le);
  assert.deepEqual(les, [...STORE_APPEND_BUCKETS.map(String), "+Inf"]);
  assert.equal(les[0], "0.0005");
  assert.equal(les.at(-2), "2.5");
});

Deno.test("server metric updates show in the next render", () => {
  const metrics = new ServerMetrics();
  let clients = 0;
  metrics.connectedClients.setCollect(() => clients);
  clients = 2;
  metrics.connectionsAccepted.inc();
  metrics.connectionsAccepted.inc();
  metrics.refused.server_full.inc();
  metrics.refused.http_probe.inc();
  metrics.refused.http_probe.inc();
  metrics.messagesReceived.inc();
  metrics.messagesStored.inc();
  for (let i = 0; i < 1000; i++) metrics.messagesDelivered.inc();
  metrics.rejected.rate_limited.inc();
  metrics.slowConsumersDisconnected.inc();
  metrics.storeErrors.inc();
  metrics.storeReconnects.inc();
  metrics.storeAppendSeconds.observe(0.0004);
  metrics.storeAppendSeconds.observe(0.003);
  const parsed = parse(metrics.render());
  assert.equal(sample(parsed, "chat_connected_clients"), 2);
  assert.equal(sample(parsed, "chat_connections_accepted_total"), 2);
  assert.equal(sample(parsed, "chat_connections_refused_total", { reason: "server_full" }), 1);
  assert.equal(sample(parsed, "chat_connections_refused_total", { reason: "http_probe" }), 2);
  assert.equal(sample(parsed, "chat_connections_refused_total", { reason: "per_ip" }), 0);
  assert.equal(sample(parsed, "chat_messages_received_total"), 1);
  assert.equal(sample(parsed, "chat_messages_stored_total"), 1);
  assert.equal(sample(parsed, "chat_messages_delivered_total"), 1000);
  assert.equal(sample(parsed, "chat_messages_rejected_total", { reason: "rate_limited" }), 1);
  assert.equal(sample(parsed, "chat_slow_consumers_disconnected_total"), 1);
  assert.equal(sample(parsed, "chat_store_errors_total"), 1);
  assert.equal(sample(parsed, "chat_store_reconnects_total"), 1);
  assert.equal(sample(parsed, "chat_store_append_seconds_bucket", { le: "0.0005" }), 1);
  assert.equal(sample(parsed, "chat_store_append_seconds_bucket", { le: "0.0025" }), 1);
  assert.equal(sample(parsed, "chat_store_append_seconds_bucket", { le: "0.005" }), 2);
  assert.equal(sample(parsed, "chat_store_append_seconds_bucket", { le: "+Inf" }), 2);
  assert.equal(sample(parsed, "chat_store_append_seconds_count"), 2);
  // The reason children are fixed: a typo is a type error, not a new series.
  assert.ok(Object.isFrozen(metrics.refused));
});
