/**
 * The chat server's metrics: every `chat_*` series and each reason exist from
 * the first scrape, and updates show in the next render.
 */

import assert from "node:assert/strict";
import {
  REFUSAL_REASONS,
  REJECTION_REASONS,
  RESUME_OUTCOMES,
  ServerMetrics,
  STORE_APPEND_BUCKETS,
} from "../../lib/ops/chat_metrics.ts";
import { parse, sample } from "../helpers/prometheus_text.ts";

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
    chat_store_failovers_total: "counter",
    chat_store_append_seconds: "histogram",
    chat_resumes_total: "counter",
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
  for (const outcome of RESUME_OUTCOMES) {
    assert.equal(sample(parsed, "chat_resumes_total", { outcome }), 0);
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
  metrics.resumes.name_taken_back.inc();
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
  assert.equal(sample(parsed, "chat_resumes_total", { outcome: "name_taken_back" }), 1);
  assert.equal(sample(parsed, "chat_resumes_total", { outcome: "resumed" }), 0);
  // The reason children are fixed: a typo is a type error, not a new series.
  assert.ok(Object.isFrozen(metrics.refused));
});
