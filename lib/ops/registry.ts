/**
 * A small metrics registry rendered in the Prometheus text exposition format
 * (version 0.0.4): counters (optionally with labels), gauges (set by hand or
 * read live through a callback) and histograms with fixed buckets.
 *
 * Updating a metric is a field increment: no allocation and no lookup, because
 * some counters move once per recipient per message. Labelled counters hand
 * out a child per label set, which the caller keeps.
 *
 * It knows nothing of chat (the chat's metrics are in `chat_metrics.ts`), and
 * it does not do summaries, timestamps, exemplars, the OpenMetrics format or
 * push: Prometheus scrapes `render()` through `http.ts`.
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
 * characters the text format escapes (`a"b` becomes `a\"b`).
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

/** A counter without labels. */
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
 * const errors = new LabeledCounter({ name: "app_errors_total", help: "Errors.", labelNames: ["kind"] });
 * const timeouts = errors.labels({ kind: "timeout" }); // keep it: no lookup per use
 * timeouts.inc();
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
 * const open = new Set<unknown>();
 * new Gauge({ name: "app_open", help: "Open things." }).setCollect(() => open.size);
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

  /** Keeps `value` (shown only while there is no callback). */
  set(value: number): void {
    this.#value = value;
  }

  /** Raises the kept value by `n` (default 1). */
  inc(n = 1): void {
    this.#value += n;
  }

  /** Lowers the kept value by `n` (default 1). */
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

/** A set of metrics with distinct names, rendered together (see the module example). */
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
