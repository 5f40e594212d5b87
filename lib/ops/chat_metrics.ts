/**
 * {@linkcode ServerMetrics}, every metric the chat server exports (all named
 * `chat_*`), with the reasons that label its refusal and rejection counters
 * and the buckets of its store latency histogram.
 *
 * It only defines and holds the metrics; the generic Prometheus machinery is
 * in `registry.ts`, and the HTTP endpoint that serves them in `http.ts`.
 *
 * @module
 */

import {
  type Counter,
  type CounterValue,
  type Gauge,
  type Histogram,
  type LabeledCounter,
  Registry,
} from "./registry.ts";
/**
 * Why a connection was turned away before it joined (the `reason` label of
 * `chat_connections_refused_total`). Mostly the protocol's error codes;
 * `per_ip` is the code `too_many_connections`, and `http_probe` is an HTTP
 * request sent to the chat port.
 */
export const REFUSAL_REASONS = [
  "server_full",
  "per_ip",
  "handshake_timeout",
  "http_probe",
  "line_too_long",
  "bad_hello",
  "invalid_name",
  "name_taken",
  "store_unavailable",
] as const;

/** One of {@linkcode REFUSAL_REASONS}. */
export type RefusalReason = typeof REFUSAL_REASONS[number];

/**
 * Why a joined client's message was not stored (the `reason` label of
 * `chat_messages_rejected_total`).
 */
export const REJECTION_REASONS = ["rate_limited", "too_long", "store_unavailable"] as const;

/** One of {@linkcode REJECTION_REASONS}. */
export type RejectionReason = typeof REJECTION_REASONS[number];

/**
 * How a JSON client's join went when it came back (the `outcome` label of
 * `chat_resumes_total`): `resumed` after `since` in the same history,
 * `reset_by_epoch` told that the history was reset and replayed afresh,
 * `name_taken_back` took its name from a stale claim with its resume token.
 */
export const RESUME_OUTCOMES = ["resumed", "reset_by_epoch", "name_taken_back"] as const;

/** One of {@linkcode RESUME_OUTCOMES}. */
export type ResumeOutcome = typeof RESUME_OUTCOMES[number];

/**
 * Bucket bounds of `chat_store_append_seconds`, in seconds: a Redis round trip
 * on a LAN is well under a millisecond, so the low end is fine-grained; the
 * top is past where the store's own command timeout would have fired.
 */
export const STORE_APPEND_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** Options of {@linkcode ServerMetrics}. */
export interface ServerMetricsOptions {
  /** Reads the number of connected clients; can also be set later with `connectedClients.setCollect`. */
  connectedClients?: () => number;
}

function children<R extends string>(
  counter: LabeledCounter<"reason">,
  reasons: readonly R[],
): Readonly<Record<R, CounterValue>> {
  return Object.freeze(
    Object.fromEntries(reasons.map((reason) => [reason, counter.labels({ reason })])),
  ) as Record<R, CounterValue>;
}

/**
 * Every metric the chat server exports, all named `chat_*`.
 *
 * Each reason of the labelled counters is created up front, so every series
 * exists (at 0) from the first scrape, and `refused.server_full.inc()` costs
 * no lookup.
 *
 * @example
 * ```ts
 * const metrics = new ServerMetrics();
 * metrics.connectedClients.setCollect(() => 0);
 * metrics.connectionsAccepted.inc();
 * metrics.refused.server_full.inc();
 * metrics.rejected.rate_limited.inc();
 * const body = metrics.render();
 * ```
 */
export class ServerMetrics {
  readonly registry: Registry = new Registry();
  /** `chat_connected_clients`: open client connections on this replica. */
  readonly connectedClients: Gauge;
  /** `chat_connections_accepted_total`: connections given a session. */
  readonly connectionsAccepted: Counter;
  /** `chat_connections_refused_total{reason}`. */
  readonly connectionsRefused: LabeledCounter<"reason">;
  /** The children of {@linkcode connectionsRefused}, one per reason. */
  readonly refused: Readonly<Record<RefusalReason, CounterValue>>;
  /** `chat_messages_received_total`: message lines received from joined clients. */
  readonly messagesReceived: Counter;
  /** `chat_messages_stored_total`: messages the store acknowledged. */
  readonly messagesStored: Counter;
  /** `chat_messages_delivered_total`: live messages queued for a recipient, once per recipient. */
  readonly messagesDelivered: Counter;
  /** `chat_messages_rejected_total{reason}`. */
  readonly messagesRejected: LabeledCounter<"reason">;
  /** The children of {@linkcode messagesRejected}, one per reason. */
  readonly rejected: Readonly<Record<RejectionReason, CounterValue>>;
  /** `chat_slow_consumers_disconnected_total`. */
  readonly slowConsumersDisconnected: Counter;
  /** `chat_flooders_disconnected_total`: clients that kept sending over the rate limit. */
  readonly floodersDisconnected: Counter;
  /** `chat_store_errors_total`: store operations that failed. */
  readonly storeErrors: Counter;
  /** `chat_store_reconnects_total`: store connections restored after a loss. */
  readonly storeReconnects: Counter;
  /** `chat_store_failovers_total`: new Redis masters followed after a Sentinel failover. */
  readonly storeFailovers: Counter;
  /** `chat_store_append_seconds`: how long a successful append took. */
  readonly storeAppendSeconds: Histogram;
  /** `chat_resumes_total{outcome}`, one child per {@linkcode RESUME_OUTCOMES} entry. */
  readonly resumes: Readonly<Record<ResumeOutcome, CounterValue>>;

  constructor(options: ServerMetricsOptions = {}) {
    const r = this.registry;
    this.connectedClients = r.gauge({
      name: "chat_connected_clients",
      help: "Client connections currently open on this replica.",
      collect: options.connectedClients,
    });
    this.connectionsAccepted = r.counter({
      name: "chat_connections_accepted_total",
      help: "Client connections accepted.",
    });
    this.connectionsRefused = r.labeledCounter({
      name: "chat_connections_refused_total",
      help: "Client connections turned away before joining, by reason.",
      labelNames: ["reason"],
    });
    this.refused = children(this.connectionsRefused, REFUSAL_REASONS);
    this.messagesReceived = r.counter({
      name: "chat_messages_received_total",
      help: "Message lines received from joined clients.",
    });
    this.messagesStored = r.counter({
      name: "chat_messages_stored_total",
      help: "Messages stored in the chat store.",
    });
    this.messagesDelivered = r.counter({
      name: "chat_messages_delivered_total",
      help: "Live messages queued for delivery, counted once per recipient.",
    });
    this.messagesRejected = r.labeledCounter({
      name: "chat_messages_rejected_total",
      help: "Messages from joined clients that were not stored, by reason.",
      labelNames: ["reason"],
    });
    this.rejected = children(this.messagesRejected, REJECTION_REASONS);
    this.slowConsumersDisconnected = r.counter({
      name: "chat_slow_consumers_disconnected_total",
      help: "Clients disconnected for not reading their output fast enough.",
    });
    this.floodersDisconnected = r.counter({
      name: "chat_flooders_disconnected_total",
      help: "Clients disconnected for sending over the rate limit after being told to slow down.",
    });
    this.storeErrors = r.counter({
      name: "chat_store_errors_total",
      help: "Chat store operations that failed.",
    });
    this.storeReconnects = r.counter({
      name: "chat_store_reconnects_total",
      help: "Chat store connections restored after being lost.",
    });
    this.storeFailovers = r.counter({
      name: "chat_store_failovers_total",
      help: "New Redis masters followed after a Sentinel failover.",
    });
    this.storeAppendSeconds = r.histogram({
      name: "chat_store_append_seconds",
      help: "Time to store one message, in seconds.",
      buckets: STORE_APPEND_BUCKETS,
    });
    const resumes = r.labeledCounter({
      name: "chat_resumes_total",
      help: "JSON clients coming back, by outcome: resumed, reset by epoch, name taken back.",
      labelNames: ["outcome"],
    });
    this.resumes = Object.freeze(
      Object.fromEntries(RESUME_OUTCOMES.map((outcome) => [outcome, resumes.labels({ outcome })])),
    ) as Record<ResumeOutcome, CounterValue>;
  }

  /** The whole registry in the Prometheus text format. */
  render(): string {
    return this.registry.render();
  }
}
