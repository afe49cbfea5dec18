/**
 * Histograms by label, as Prometheus counts them: cumulative buckets, a sum and a count.
 *
 * @module
 */

/** Upper bounds in seconds: from a cached small file to a large transfer. */
export const SECONDS_BUCKETS: readonly number[] = [
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
  5,
  10,
  30,
  60,
  300,
];

/** One label value's observations. */
export interface HistogramSeries {
  /** Observations at or under each bound of `bounds` (not yet cumulative). */
  counts: number[];
  /** The observations added up. */
  sum: number;
  /** How many observations. */
  count: number;
}

/**
 * Observations of one quantity, a series per label value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const h = new Histogram([0.1, 1]);
 * h.observe("backup", 0.05);
 * h.observe("backup", 2);
 * assert.deepEqual(h.series().get("backup"), { counts: [1, 0], sum: 2.05, count: 2 });
 * ```
 */
export class Histogram {
  readonly #series = new Map<string, HistogramSeries>();

  /** A histogram with these upper bounds, ascending. */
  constructor(readonly bounds: readonly number[] = SECONDS_BUCKETS) {}

  /** Counts `value` under `label`. */
  observe(label: string, value: number): void {
    let series = this.#series.get(label);
    if (!series) {
      series = { counts: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.#series.set(label, series);
    }
    const at = this.bounds.findIndex((bound) => value <= bound);
    if (at >= 0) series.counts[at]++;
    series.sum += value;
    series.count++;
  }

  /** The series by label. */
  series(): ReadonlyMap<string, HistogramSeries> {
    return this.#series;
  }
}
