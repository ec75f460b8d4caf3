/**
 * The metric store: every series' aggregates in time buckets of three
 * resolutions, its all-time totals, and queries over windows and ranges.
 *
 *   DeltaCell[] (from shards) --ingest--> series index (budgeted) --> tiers:
 *        10 s buckets for the last 15 min   (windows up to 15m)
 *        1 min buckets for the last 6 h     (windows up to 6h)
 *        5 min buckets for the retention    (longer windows, 24h)
 *                                         `--> totals (what Prometheus exports)
 *
 * A delta cell is merged into the bucket of each tier that covers it, so a
 * window is read from one tier and costs (window / resolution) buckets. Tiers
 * drop whole buckets as they age (expire()), which frees their memory; a
 * series is forgotten, and its budget released, once it has had no data for
 * the retention period. Owned by one thread (the engine's).
 */
import { CounterCell, type DeltaCell, type HistogramTotal } from './cells';
import { formatDuration } from './duration';
import { overflowLabels, seriesKey, type MetricFamily } from './families';
import { LogHistogram } from './log-histogram';
import { OVERFLOW, SeriesBudget, type SeriesBudgetLimits, type SeriesBudgetStats } from './series-budget';

export const RESOLUTION_MS = 10_000;
const TIER_PLAN = [
  { resolutionMs: RESOLUTION_MS, spanMs: 15 * 60_000 },
  { resolutionMs: 60_000, spanMs: 6 * 3_600_000 },
  { resolutionMs: 300_000, spanMs: Infinity },
];
/** At most this many points per series in a range query (as Prometheus). */
export const MAX_RANGE_POINTS = 11_000;

export interface StoreOptions {
  families: readonly MetricFamily[];
  retentionMs: number;
  limits: SeriesBudgetLimits;
  /** Unix ms; a fake clock in tests, the latest event time when replaying. */
  now: () => number;
}

export interface Series {
  readonly family: MetricFamily;
  readonly key: string;
  readonly labels: readonly string[];
  /** Counters: the sum since the series appeared. Histograms: count, sum, fixed buckets. */
  readonly total: { value: number; histogram?: HistogramTotal };
  lastBucketMs: number;
}

type TierCell = CounterCell | LogHistogram;

interface Tier {
  resolutionMs: number;
  spanMs: number;
  buckets: Map<number, Map<Series, TierCell>>;
}

export type LabelMatcher = string | { op: '=' | '!=' | '=~' | '!~'; value: string };

export interface Selector {
  metric: string;
  /** Label name → value (equality) or a matcher; every one must hold. */
  match?: Record<string, LabelMatcher>;
  /** Group by these labels (summing counters, merging histograms); default: one row per series. */
  by?: readonly string[];
}

export interface CounterSummary {
  /** The increase over the window or step. */
  value: number;
  /** value per second of time covered. */
  rate: number;
}

export interface HistogramSummary extends CounterSummary {
  count: number;
  sum: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

export type Summary = CounterSummary | HistogramSummary;

export interface WindowRow {
  labels: Record<string, string>;
  summary: Summary;
}

export interface RangeRow {
  labels: Record<string, string>;
  points: { t: number; summary: Summary }[];
}

export interface StoreStats {
  series: number;
  cells: number;
  /** Cells that arrived older than the retention (dropped). */
  lateCells: number;
  budget: SeriesBudgetStats;
  tiers: { resolution: string; span: string; buckets: number }[];
}

export class StoreQueryError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

export class MetricStore {
  readonly families: ReadonlyMap<string, MetricFamily>;
  readonly retentionMs: number;
  private readonly now: () => number;
  private readonly tiers: Tier[];
  private readonly series = new Map<string, Series>();
  private readonly budget: SeriesBudget;
  private lateCells = 0;
  /** Start of the earliest bucket ever ingested: rates are not diluted by time before the first data. */
  private originMs = Infinity;

  constructor(options: StoreOptions) {
    this.families = new Map(options.families.map((f) => [f.name, f]));
    this.retentionMs = options.retentionMs;
    this.now = options.now;
    this.budget = new SeriesBudget(options.limits);
    this.tiers = [];
    for (const t of TIER_PLAN) {
      this.tiers.push({ resolutionMs: t.resolutionMs, spanMs: Math.min(t.spanMs, options.retentionMs), buckets: new Map() });
      if (t.spanMs >= options.retentionMs) break;
    }
  }

  /** Merges shard output into the store. The cells are not kept. */
  ingest(cells: readonly DeltaCell[]): void {
    const now = this.now();
    for (const c of cells) {
      if (c.bucketMs + RESOLUTION_MS <= now - this.retentionMs) {
        this.lateCells++;
        continue;
      }
      const family = this.families.get(c.family);
      if (!family) throw new Error(`store: unknown family ${JSON.stringify(c.family)}`);
      const series = this.seriesFor(family, c.labels, c.key);
      if (c.bucketMs > series.lastBucketMs) series.lastBucketMs = c.bucketMs;
      if (c.bucketMs < this.originMs) this.originMs = c.bucketMs;
      addTotal(series, c);
      for (const tier of this.tiers) {
        const start = c.bucketMs - (c.bucketMs % tier.resolutionMs);
        if (start + tier.resolutionMs <= now - tier.spanMs) continue; // already aged out of this tier
        let bucket = tier.buckets.get(start);
        if (!bucket) tier.buckets.set(start, (bucket = new Map()));
        let cell = bucket.get(series);
        if (c.hist) {
          if (!cell) bucket.set(series, (cell = new LogHistogram()));
          (cell as LogHistogram).merge(c.hist);
        } else {
          if (!cell) bucket.set(series, (cell = new CounterCell()));
          (cell as CounterCell).value += c.value;
        }
      }
    }
  }

  /** Drops buckets older than their tier's span and series idle for the retention. */
  expire(): void {
    const now = this.now();
    for (const tier of this.tiers) {
      for (const start of tier.buckets.keys()) {
        if (start + tier.resolutionMs <= now - tier.spanMs) tier.buckets.delete(start);
      }
    }
    for (const [id, s] of this.series) {
      if (s.lastBucketMs + RESOLUTION_MS <= now - this.retentionMs) {
        this.series.delete(id);
        if (!s.labels.includes(OVERFLOW)) this.budget.release(serviceOf(s.family, s.labels), budgetKey(s.family, s.key));
      }
    }
  }

  /** Every live series of a family, with its totals (for exporters). */
  *seriesOf(metric: string): IterableIterator<Series> {
    for (const s of this.series.values()) if (s.family.name === metric) yield s;
  }

  /** Summaries over the last `windowMs`, one row per series or per group. */
  window(selector: Selector, windowMs: number): WindowRow[] {
    const family = this.familyOf(selector);
    const problem = this.windowProblem(windowMs);
    if (problem) throw new StoreQueryError('window', `${formatDuration(windowMs)} ${problem}`);
    const tier = this.tierFor(windowMs, 'window');
    const now = this.now();
    const alignedNow = now - (now % tier.resolutionMs);
    const startMs = alignedNow + tier.resolutionMs - windowMs;
    const groups = this.collect(family, selector, tier, startMs, alignedNow + tier.resolutionMs);
    const seconds = coveredSeconds(now, Math.max(startMs, this.originMs));
    return [...groups.values()].map((g) => ({ labels: g.labels, summary: summarize(g.acc, seconds) }));
  }

  /** Summaries per step over [startMs, endMs]: points at step starts, each covering [t, t + step). */
  range(selector: Selector, startMs: number, endMs: number, stepMs: number): RangeRow[] {
    const family = this.familyOf(selector);
    if (!(endMs >= startMs)) throw new StoreQueryError('end', 'must not be before start');
    const now = this.now();
    const tier = this.tierFor(Math.max(now - startMs, 1), 'start');
    if (stepMs < tier.resolutionMs || stepMs % tier.resolutionMs !== 0) {
      throw new StoreQueryError('step', `${formatDuration(stepMs)} must be a multiple of ${formatDuration(tier.resolutionMs)}, the resolution kept that far back`);
    }
    const first = startMs - (startMs % stepMs);
    const points = Math.floor((endMs - first) / stepMs) + 1;
    if (points > MAX_RANGE_POINTS) throw new StoreQueryError('step', `${points} points per series; at most ${MAX_RANGE_POINTS}: use a larger step`);
    const rows = new Map<string, RangeRow>();
    for (let t = first; t <= endMs; t += stepMs) {
      for (const [key, g] of this.collect(family, selector, tier, t, t + stepMs)) {
        let row = rows.get(key);
        if (!row) rows.set(key, (row = { labels: g.labels, points: [] }));
        row.points.push({ t, summary: summarize(g.acc, stepMs / 1000) });
      }
    }
    return [...rows.values()];
  }

  /** Why a window of this length cannot be served, or undefined when it can. */
  windowProblem(windowMs: number): string | undefined {
    if (!Number.isInteger(windowMs) || windowMs < RESOLUTION_MS) return `must be at least ${formatDuration(RESOLUTION_MS)}`;
    const tier = this.tiers.find((t) => t.spanMs >= windowMs);
    if (!tier) return `is beyond the retention of ${formatDuration(this.retentionMs)}`;
    if (windowMs % tier.resolutionMs !== 0) return `is not a multiple of ${formatDuration(tier.resolutionMs)}, the resolution kept for windows this long`;
    return undefined;
  }

  stats(): StoreStats {
    let cells = 0;
    for (const tier of this.tiers) for (const bucket of tier.buckets.values()) cells += bucket.size;
    return {
      series: this.series.size,
      cells,
      lateCells: this.lateCells,
      budget: this.budget.stats(),
      tiers: this.tiers.map((t) => ({ resolution: formatDuration(t.resolutionMs), span: formatDuration(t.spanMs), buckets: t.buckets.size })),
    };
  }

  /** The series to merge into: its own when known or admitted, else the overflow series it folds into (never budgeted). */
  private seriesFor(family: MetricFamily, labels: string[], key: string, budgeted = true): Series {
    const id = family.name + '\u0002' + key;
    const known = this.series.get(id);
    if (known) return known;
    if (budgeted && !labels.includes(OVERFLOW)) {
      const admission = this.budget.admit(serviceOf(family, labels), budgetKey(family, key));
      if (admission !== 'admitted') {
        const folded = overflowLabels(family, labels, admission);
        return this.seriesFor(family, folded, seriesKey(folded), false);
      }
    }
    const created: Series = {
      family,
      key,
      labels,
      total: family.kind === 'histogram' ? { value: 0, histogram: { count: 0, sum: 0, bounds: new Array((family.boundaries?.length ?? 0) + 1).fill(0) } } : { value: 0 },
      lastBucketMs: -Infinity,
    };
    this.series.set(id, created);
    return created;
  }

  private familyOf(selector: Selector): MetricFamily {
    const family = this.families.get(selector.metric);
    if (!family) throw new StoreQueryError('metric', `${JSON.stringify(selector.metric)} is not a metric (known: ${[...this.families.keys()].join(', ')})`);
    for (const name of [...Object.keys(selector.match ?? {}), ...(selector.by ?? [])]) {
      if (!family.labels.includes(name)) throw new StoreQueryError(`label ${name}`, `not a label of ${family.name} (its labels: ${family.labels.join(', ')})`);
    }
    return family;
  }

  /** The finest tier that reaches `spanMs` back. */
  private tierFor(spanMs: number, field: string): Tier {
    const tier = this.tiers.find((t) => t.spanMs >= spanMs);
    if (!tier) throw new StoreQueryError(field, `${formatDuration(spanMs)} is beyond the retention of ${formatDuration(this.retentionMs)}`);
    return tier;
  }

  /** Accumulates the cells of matching series in tier buckets starting in [fromMs, toMs), per group. */
  private collect(family: MetricFamily, selector: Selector, tier: Tier, fromMs: number, toMs: number): Map<string, { labels: Record<string, string>; acc: TierCell }> {
    const matches = compileMatchers(family, selector.match ?? {});
    const by = selector.by;
    const groupIndexes = by ? by.map((name) => family.labels.indexOf(name)) : family.labels.map((_, i) => i);
    const groups = new Map<string, { labels: Record<string, string>; acc: TierCell }>();
    const groupOf = new Map<Series, string | null>();
    for (const [start, bucket] of tier.buckets) {
      if (start < fromMs || start >= toMs) continue;
      for (const [series, cell] of bucket) {
        if (series.family !== family) continue;
        let key = groupOf.get(series);
        if (key === undefined) {
          key = matches(series.labels) ? groupIndexes.map((i) => series.labels[i]).join('\u0001') : null;
          groupOf.set(series, key);
        }
        if (key === null) continue;
        let g = groups.get(key);
        if (!g) {
          const labels: Record<string, string> = {};
          for (const i of groupIndexes) labels[family.labels[i]] = series.labels[i];
          groups.set(key, (g = { labels, acc: family.kind === 'histogram' ? new LogHistogram() : new CounterCell() }));
        }
        if (g.acc instanceof LogHistogram) g.acc.merge(cell as LogHistogram);
        else g.acc.value += (cell as CounterCell).value;
      }
    }
    return groups;
  }
}

function addTotal(series: Series, c: DeltaCell): void {
  const h = series.total.histogram;
  if (!h) {
    series.total.value += c.value;
    return;
  }
  series.total.value += c.value;
  h.count += c.hist?.count ?? 0;
  h.sum += c.hist?.sum ?? 0;
  c.bounds?.forEach((n, i) => (h.bounds[i] += n));
}

function coveredSeconds(nowMs: number, fromMs: number): number {
  return Math.max((nowMs - fromMs) / 1000, 1);
}

function summarize(acc: TierCell, seconds: number): Summary {
  if (acc instanceof CounterCell) return { value: acc.value, rate: acc.value / seconds };
  return {
    value: acc.count,
    rate: acc.count / seconds,
    count: acc.count,
    sum: acc.sum,
    mean: acc.mean,
    min: acc.min,
    max: acc.max,
    p50: acc.quantile(0.5),
    p90: acc.quantile(0.9),
    p95: acc.quantile(0.95),
    p99: acc.quantile(0.99),
  };
}

function compileMatchers(family: MetricFamily, match: Record<string, LabelMatcher>): (labels: readonly string[]) => boolean {
  const tests = Object.entries(match).map(([name, m]) => {
    const index = family.labels.indexOf(name);
    const { op, value } = typeof m === 'string' ? { op: '=' as const, value: m } : m;
    if (op === '=') return (labels: readonly string[]) => labels[index] === value;
    if (op === '!=') return (labels: readonly string[]) => labels[index] !== value;
    if (op !== '=~' && op !== '!~') throw new StoreQueryError(`label ${name}`, `unknown operator ${JSON.stringify(op)} (=, !=, =~, !~)`);
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`); // anchored, as PromQL
    } catch (e) {
      throw new StoreQueryError(`label ${name}`, `bad regular expression: ${(e as Error).message}`);
    }
    return op === '=~' ? (labels: readonly string[]) => re.test(labels[index]) : (labels: readonly string[]) => !re.test(labels[index]);
  });
  return (labels) => tests.every((t) => t(labels));
}

const serviceOf = (family: MetricFamily, labels: readonly string[]): string => labels[family.labels.indexOf(family.serviceLabel)];
const budgetKey = (family: MetricFamily, key: string): string => family.name + '\u0002' + key;
