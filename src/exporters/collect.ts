/**
 * The store's totals as a Rollup (rollup.ts): every exported series with its
 * cumulative value, named by naming.ts. /metrics carries the same series
 * (exposition.ts reads the same labels, bounds and cumulative sums; the
 * Registry's own rendering calls collectMetric), so a scrape and a forwarded
 * rollup taken at the same instant carry the same names, labels and values.
 *
 *   store series totals --exportedMetrics (naming.ts)--> per metric, per accepted series:
 *     counter    value = total.value
 *     histogram  cumulative buckets from total.histogram (non-cumulative counts), count, sum
 *   --> RollupSeries { name, help, type, labels, value | histogram, startMs = series.startMs }
 *
 * Not in it: the percentile gauges (one node's window; quantiles do not add up
 * across nodes) and the agent's own health, which only /metrics serves.
 *
 * Cost: O(series), one RollupSeries per series and, for a histogram, one
 * array of cumulative counts; labels objects and bucket bounds are made once
 * per series and metric and shared by every call (frozen: read only).
 * Runs on the store's thread; the result is the caller's (the store keeps no
 * reference to it), but its labels and bounds must not be changed.
 */
import type { Series } from '../analytics/store';
import type { StoreReader } from '../server/sources';
import { exportedMetrics, type ExportedMetric } from './naming';
import type { Rollup, RollupSeries } from './rollup';

export interface CollectOptions {
  /** Which exported metrics to take, by name (default: all). Asked once per metric, not per series. */
  include?: (name: string) => boolean;
}

/** The store's series as one Rollup at nowMs (Unix ms; the caller's clock, e.g. store.nowMs()). */
export function collectRollup(store: Pick<StoreReader, 'families' | 'seriesOf'>, nowMs: number, options: CollectOptions = {}): Rollup {
  const series: RollupSeries[] = [];
  for (const metric of exportedMetrics(store.families)) {
    if (!options.include || options.include(metric.name)) collectMetric(store, metric, series);
  }
  return { timestampMs: nowMs, series };
}

/** Appends the series of one exported metric to `out`, in the store's order. */
export function collectMetric(store: Pick<StoreReader, 'seriesOf'>, metric: ExportedMetric, out: RollupSeries[]): void {
  for (const s of store.seriesOf(metric.family.name)) {
    if (metric.accepts(s)) out.push(rollupSeries(metric, s));
  }
}

function rollupSeries(metric: ExportedMetric, s: Series): RollupSeries {
  // Shared and frozen (naming.ts): the Rollup types them as plain objects for its encoders, which only read them.
  const labels = metric.labelsOf(s) as Record<string, string>;
  if (metric.type === 'counter') return { name: metric.name, help: metric.help, type: 'counter', labels, value: s.total.value, startMs: s.startMs };
  const h = s.total.histogram!;
  const bounds = metric.bounds;
  const cumulative = new Array<number>(bounds.length);
  let sum = 0;
  for (let i = 0; i < bounds.length; i++) cumulative[i] = sum += h.bounds[i];
  return {
    name: metric.name,
    help: metric.help,
    type: 'histogram',
    labels,
    histogram: { bounds: bounds as number[], cumulative, count: h.count, sum: h.sum },
    startMs: s.startMs,
  };
}
