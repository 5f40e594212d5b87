/**
 * Summary statistics for the load generator.
 *
 * - {@linkcode summarize} gives exact nearest-rank percentiles of a list of
 *   samples; it sorts a copy, so it is meant for thousands of samples (connect
 *   times), not millions.
 * - {@linkcode LatencyHistogram} records millions of end-to-end latencies in
 *   constant time and fixed memory (about 180 KiB): log-linear buckets with a
 *   relative error under 0.1 % from 1 µs to about 35 minutes. It does not keep
 *   the samples, and its percentiles are the upper edge of the bucket the rank
 *   falls in (never above the exact maximum, which it also keeps).
 *
 * All values are milliseconds.
 *
 * @module
 */

/** Count, extremes, mean and percentiles of a set of samples, in milliseconds. */
export interface Summary {
  /** Number of samples. */
  count: number;
  /** Smallest sample, or `null` when there are none (and likewise below). */
  min: number | null;
  /** Arithmetic mean. */
  mean: number | null;
  /** Median (nearest rank). */
  p50: number | null;
  /** 90th percentile (nearest rank). */
  p90: number | null;
  /** 99th percentile (nearest rank). */
  p99: number | null;
  /** Largest sample. */
  max: number | null;
}

const EMPTY: Summary = {
  count: 0,
  min: null,
  mean: null,
  p50: null,
  p90: null,
  p99: null,
  max: null,
};

/**
 * The 1-based nearest rank of percentile `p` among `count` samples: the
 * smallest rank with at least `p` % of the samples at or below it.
 */
function rank(p: number, count: number): number {
  return Math.max(1, Math.ceil((p / 100) * count));
}

/**
 * Summarizes `samples` exactly.
 *
 * @param samples values in milliseconds, in any order (not modified).
 * @returns the summary; every field but `count` is `null` when empty.
 */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) return { ...EMPTY };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => round(sorted[rank(p, sorted.length) - 1]);
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    min: round(sorted[0]),
    mean: round(sum / sorted.length),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: round(sorted[sorted.length - 1]),
  };
}

/** Values are kept in whole microseconds, below 2^31 (about 35 minutes). */
const MAX_MICROS = 2 ** 31 - 1;
/**
 * 2^10 sub-buckets per power of two: values below 2048 µs get a bucket each,
 * larger ones share a bucket with values less than 1/1024 away.
 */
const SUB_BITS = 10;
/** The highest bucket index is that of {@linkcode MAX_MICROS}, plus one. */
const BUCKETS = bucketOf(MAX_MICROS) + 1;

/** The bucket of a value in whole microseconds (0 to {@linkcode MAX_MICROS}). */
function bucketOf(micros: number): number {
  // 31 - clz32 is the index of the highest set bit; shift so that what is
  // left has SUB_BITS + 1 bits, the top one always set.
  const shift = micros < 1 << SUB_BITS ? 0 : 21 - Math.clz32(micros);
  return (shift << SUB_BITS) + (micros >>> shift);
}

/** The largest value, in microseconds, that falls in `bucket`. */
function bucketTop(bucket: number): number {
  const shift = bucket < 2 << SUB_BITS ? 0 : (bucket >>> SUB_BITS) - 1;
  const mantissa = bucket - (shift << SUB_BITS);
  return (mantissa + 1) * 2 ** shift - 1;
}

/** A fixed-size histogram of latencies. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Number of values recorded. */
  get count(): number {
    return this.#count;
  }

  /**
   * Records one latency. Negative values (impossible with one clock, but
   * cheap to guard) count as 0; values beyond about 35 minutes as that.
   *
   * @param ms the latency in milliseconds.
   */
  record(ms: number): void {
    let micros = Math.round(ms * 1000);
    if (!(micros > 0)) micros = 0;
    else if (micros > MAX_MICROS) micros = MAX_MICROS;
    this.#counts[bucketOf(micros)]++;
    this.#count++;
    this.#sum += micros;
    if (micros < this.#min) this.#min = micros;
    if (micros > this.#max) this.#max = micros;
  }

  /**
   * The nearest-rank percentile `p`, as the top of its bucket clamped to
   * the recorded extremes, so that p50 <= p90 <= p99 <= max always holds.
   *
   * @param p the percentile, from 0 to 100.
   * @returns milliseconds, or `null` when nothing was recorded.
   */
  percentile(p: number): number | null {
    if (this.#count === 0) return null;
    const wanted = rank(p, this.#count);
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.#counts[bucket];
      if (seen >= wanted) {
        const micros = Math.min(this.#max, Math.max(this.#min, bucketTop(bucket)));
        return round(micros / 1000);
      }
    }
    return round(this.#max / 1000);
  }

  /** The recorded latencies summarized, in milliseconds. */
  summary(): Summary {
    if (this.#count === 0) return { ...EMPTY };
    return {
      count: this.#count,
      min: round(this.#min / 1000),
      mean: round(this.#sum / this.#count / 1000),
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: round(this.#max / 1000),
    };
  }
}

/** Rounds to microseconds, so that reports do not show float noise. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
