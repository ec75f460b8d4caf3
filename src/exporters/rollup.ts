/**
 * A rollup: every exported series' cumulative value at one instant, in the
 * one metric shape every exporter shares (names and labels as on /metrics).
 * The forwarder takes one per flush interval from the store's totals; the
 * remote-write and OTLP encoders turn it into their wire formats.
 */

export interface RollupHistogram {
  /** Upper bounds (seconds, bytes), ascending, +Inf excluded. */
  bounds: number[];
  /** Cumulative counts per bound (≤ bound), same length as bounds. */
  cumulative: number[];
  count: number;
  sum: number;
}

export interface RollupSeries {
  /** The exported name (a counter's includes _total; a histogram's is the base name). */
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** Label name → value; no empty values. */
  labels: Record<string, string>;
  /** Counters and gauges. */
  value?: number;
  histogram?: RollupHistogram;
  /** When the series started counting (Unix ms): OTLP's start time, a counter reset's mark. */
  startMs: number;
}

export interface Rollup {
  /** The instant every value is taken at (Unix ms). */
  timestampMs: number;
  series: RollupSeries[];
}
