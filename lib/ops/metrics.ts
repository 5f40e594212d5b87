/**
 * A small metrics registry rendered in the Prometheus text exposition format
 * (version 0.0.4), and {@linkcode ServerMetrics}, the chat server's metrics.
 *
 * It has counters (optionally with labels), gauges (set by hand or read live
 * through a callback) and histograms with fixed buckets. Updating a metric is
 * a field increment: no allocation and no lookup, because some counters move
 * once per recipient per message. Labelled counters hand out a child per label
 * set, which the caller keeps.
 *
 * It does not do summaries, timestamps, exemplars, the OpenMetrics format or
 * push: Prometheus scrapes `render()` through `lib/http.ts`.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * const requests = registry.counter({ name: "app_requests_total", help: "Requests served." });
 * requests.inc();
 * registry.render(); // "# HELP app_requests_total Requests served.\n# TYPE ... counter\napp_requests_total 1\n"
 * ```
 *
 * @module
 */

/** The `Content-Type` of {@linkcode Registry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A metric or label was defined or used in a way Prometheus cannot represent. */
export class MetricsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricsError";
  }
}

/** The Prometheus type of a metric, as written on its `# TYPE` line. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Anything a {@linkcode Registry} can render. */
export interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  /** Appends the sample lines (without `# HELP` and `# TYPE`) to `out`. */
  renderSamples(out: string[]): void;
}

/** What every metric is defined with. */
export interface MetricOptions {
  /** Matches `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  name: string;
  /** One sentence for the `# HELP` line. */
  help: string;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkName(name: string): void {
  if (!METRIC_NAME.test(name)) throw new MetricsError(`invalid metric name "${name}"`);
}

function checkLabelName(name: string): void {
  // Names starting with "__" are reserved for Prometheus itself.
  if (!LABEL_NAME.test(name) || name.startsWith("__")) {
    throw new MetricsError(`invalid label name "${name}"`);
  }
}

/**
 * Formats a sample value the way Prometheus parses it (Go's float syntax):
 * `+Inf`, `-Inf` and `NaN` are spelled out.
 */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

/**
 * Escapes a label value: backslash, double quote and line feed are the only
 * characters the text format escapes.
 *
 * @example
 * ```ts
 * escapeLabelValue('a"b\\c\nd'); // 'a\\"b\\\\c\\nd'
 * ```
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** Escapes `# HELP` text: backslash and line feed only (quotes stay as they are). */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

/**
 * A value that only goes up: the sample of an unlabelled {@linkcode Counter}
 * or one label set of a {@linkcode LabeledCounter}.
 */
export class CounterValue {
  #value = 0;

  /** The current total. */
  get value(): number {
    return this.#value;
  }

  /**
   * Adds `n` (default 1). Allocation-free, so it can run per delivery.
   *
   * @throws {MetricsError} when `n` is negative or NaN: a counter never goes down.
   */
  inc(n = 1): void {
    if (!(n >= 0)) throw new MetricsError(`a counter cannot be increased by ${n}`);
    this.#value += n;
  }
}

/**
 * A counter without labels.
 *
 * @example
 * ```ts
 * const accepted = new Counter({ name: "chat_connections_accepted_total", help: "Accepted." });
 * accepted.inc();
 * accepted.value; // 1
 * ```
 */
export class Counter extends CounterValue implements Metric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType = "counter";

  constructor(options: MetricOptions) {
    checkName(options.name);
    super();
    this.name = options.name;
    this.help = options.help;
  }

  renderSamples(out: string[]): void {
    out.push(`${this.name} ${formatValue(this.value)}`);
  }
}

/** Options of a {@linkcode LabeledCounter}. */
export interface LabeledCounterOptions<L extends string> extends MetricOptions {
  /** The label names, in the order they are rendered. At least one. */
  labelNames: readonly L[];
}

/**
 * A counter with labels: one {@linkcode CounterValue} per label set. Label
 * sets are rendered in the order they were first asked for, so asking for the
 * expected ones up front makes them appear (at 0) before anything happens,
 * which is what `rate()` and alerts need.
 *
 * @example
 * ```ts
 * const refused = new LabeledCounter({
 *   name: "chat_connections_refused_total",
 *   help: "Refused connections.",
 *   labelNames: ["reason"],
 * });
 * const full = refused.labels({ reason: "server_full" }); // keep it: no lookup per use
 * full.inc();
 * ```
 */
export class LabeledCounter<L extends string = string> implements Metric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType = "counter";
  readonly labelNames: readonly L[];
  readonly #children = new Map<string, CounterValue>();

  constructor(options: LabeledCounterOptions<L>) {
    checkName(options.name);
    if (options.labelNames.length === 0) {
      throw new MetricsError(`${options.name}: a labelled counter needs a label name`);
    }
    for (const label of options.labelNames) checkLabelName(label);
    if (new Set(options.labelNames).size !== options.labelNames.length) {
      throw new MetricsError(`${options.name}: label names repeat`);
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = [...options.labelNames];
  }

  /**
   * Returns the counter of one label set, creating it at 0 the first time.
   *
   * @throws {MetricsError} when `values` lacks a label or has an extra one.
   */
  labels(values: Readonly<Record<L, string>>): CounterValue {
    const keys = Object.keys(values);
    if (keys.length !== this.labelNames.length || !this.labelNames.every((l) => l in values)) {
      throw new MetricsError(
        `${this.name}: expected labels ${this.labelNames.join(", ")}, got ${keys.join(", ")}`,
      );
    }
    const key = this.labelNames.map((label) => `${label}="${escapeLabelValue(values[label])}"`)
      .join(",");
    let child = this.#children.get(key);
    if (!child) {
      child = new CounterValue();
      this.#children.set(key, child);
    }
    return child;
  }

  renderSamples(out: string[]): void {
    for (const [labels, child] of this.#children) {
      out.push(`${this.name}{${labels}} ${formatValue(child.value)}`);
    }
  }
}

/** Options of a {@linkcode Gauge}. */
export interface GaugeOptions extends MetricOptions {
  /** Reads the value at render time instead of keeping one. */
  collect?: () => number;
}

/**
 * A value that goes up and down: either kept (`set`, `inc`, `dec`) or read
 * live from a callback when rendered, for values the program already tracks.
 *
 * @example
 * ```ts
 * const sessions = new Set<unknown>();
 * const clients = new Gauge({ name: "chat_connected_clients", help: "Connected clients." });
 * clients.setCollect(() => sessions.size);
 * ```
 */
export class Gauge implements Metric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType = "gauge";
  #value = 0;
  #collect: (() => number) | undefined;

  constructor(options: GaugeOptions) {
    checkName(options.name);
    this.name = options.name;
    this.help = options.help;
    this.#collect = options.collect;
  }

  /** The current value: the callback's answer when there is one. */
  get value(): number {
    return this.#collect ? this.#collect() : this.#value;
  }

  /** Makes the gauge read `collect()` when rendered (or stop, with `undefined`). */
  setCollect(collect: (() => number) | undefined): void {
    this.#collect = collect;
  }

  set(value: number): void {
    this.#value = value;
  }

  inc(n = 1): void {
    this.#value += n;
  }

  dec(n = 1): void {
    this.#value -= n;
  }

  renderSamples(out: string[]): void {
    out.push(`${this.name} ${formatValue(this.value)}`);
  }
}

/** Options of a {@linkcode Histogram}. */
export interface HistogramOptions extends MetricOptions {
  /**
   * Upper bounds (inclusive), strictly increasing and finite. The `+Inf`
   * bucket is always added.
   */
  buckets: readonly number[];
}

/**
 * Counts observations into fixed buckets and keeps their sum and count.
 * Rendered buckets are cumulative, as Prometheus expects: `le="x"` counts
 * every observation at most `x`, and `le="+Inf"` equals `_count`.
 *
 * @example
 * ```ts
 * const append = new Histogram({
 *   name: "chat_store_append_seconds",
 *   help: "Store append latency.",
 *   buckets: [0.001, 0.01, 0.1, 1],
 * });
 * const start = performance.now();
 * // ... await store.append(...)
 * append.observe((performance.now() - start) / 1000);
 * ```
 */
export class Histogram implements Metric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType = "histogram";
  readonly buckets: readonly number[];
  // Per bucket, not cumulative: observe() touches one slot; render() sums.
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(options: HistogramOptions) {
    checkName(options.name);
    const buckets = [...options.buckets];
    if (buckets.at(-1) === Infinity) buckets.pop();
    if (buckets.length === 0) throw new MetricsError(`${options.name}: no buckets`);
    for (const [i, bound] of buckets.entries()) {
      if (!Number.isFinite(bound) || (i > 0 && bound <= buckets[i - 1])) {
        throw new MetricsError(`${options.name}: buckets must be finite and strictly increasing`);
      }
    }
    this.name = options.name;
    this.help = options.help;
    this.buckets = buckets;
    this.#counts = new Float64Array(buckets.length + 1);
  }

  /** How many observations so far. */
  get count(): number {
    return this.#count;
  }

  /** The sum of all observations. */
  get sum(): number {
    return this.#sum;
  }

  /**
   * Records one observation (for a duration, in seconds).
   *
   * @throws {MetricsError} for NaN, which would make `_sum` useless forever.
   */
  observe(value: number): void {
    if (Number.isNaN(value)) throw new MetricsError(`${this.name}: cannot observe NaN`);
    const bounds = this.buckets;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.#counts[i]++;
    this.#sum += value;
    this.#count++;
  }

  renderSamples(out: string[]): void {
    let cumulative = 0;
    for (const [i, bound] of this.buckets.entries()) {
      cumulative += this.#counts[i];
      out.push(`${this.name}_bucket{le="${formatValue(bound)}"} ${cumulative}`);
    }
    out.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`);
    out.push(`${this.name}_sum ${formatValue(this.#sum)}`);
    out.push(`${this.name}_count ${this.#count}`);
  }
}

/**
 * A set of metrics with distinct names, rendered together.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * const up = registry.gauge({ name: "app_up", help: "Always 1.", collect: () => 1 });
 * registry.render(); // "# HELP app_up Always 1.\n# TYPE app_up gauge\napp_up 1\n"
 * ```
 */
export class Registry {
  readonly #metrics = new Map<string, Metric>();

  /**
   * Adds a metric and returns it.
   *
   * @throws {MetricsError} when a metric with that name is already registered.
   */
  register<M extends Metric>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new MetricsError(`metric "${metric.name}" is already registered`);
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** Creates and registers a {@linkcode Counter}. */
  counter(options: MetricOptions): Counter {
    return this.register(new Counter(options));
  }

  /** Creates and registers a {@linkcode LabeledCounter}. */
  labeledCounter<L extends string>(options: LabeledCounterOptions<L>): LabeledCounter<L> {
    return this.register(new LabeledCounter(options));
  }

  /** Creates and registers a {@linkcode Gauge}. */
  gauge(options: GaugeOptions): Gauge {
    return this.register(new Gauge(options));
  }

  /** Creates and registers a {@linkcode Histogram}. */
  histogram(options: HistogramOptions): Histogram {
    return this.register(new Histogram(options));
  }

  /**
   * Renders every metric, in registration order, in the text format: a
   * `# HELP` and a `# TYPE` line, then the samples. Ends with a line feed
   * (empty when nothing is registered).
   */
  render(): string {
    const out: string[] = [];
    for (const metric of this.#metrics.values()) {
      out.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      out.push(`# TYPE ${metric.name} ${metric.type}`);
      metric.renderSamples(out);
    }
    return out.length === 0 ? "" : `${out.join("\n")}\n`;
  }
}

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
  }

  /** The whole registry in the Prometheus text format. */
  render(): string {
    return this.registry.render();
  }
}
