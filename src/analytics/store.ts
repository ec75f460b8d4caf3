/**
 * The metric store: every series' aggregates in time buckets of three
 * resolutions, its all-time totals, and queries over windows and ranges.
 *
 *   DeltaCell[] (from shards) --ingest--> series index (budgeted) --> per series, one ring per tier:
 *        10 s buckets for the last 15 min   (windows up to 15m)
 *        1 min buckets for the last hour    (windows up to 1h)
 *        15 min (histograms: 1 h) buckets for the retention (longer windows, 24h;
 *        1 h buckets past 24 h)
 *                                         `--> totals (what Prometheus exports)
 *
 * A delta cell is merged into the bucket of each tier that covers it, so a
 * window is read from one tier and costs (window / resolution) slots per
 * series. Rings are fixed: a counter series costs 8 bytes per slot whatever
 * the traffic. Histograms are held per tier slot for every series at once:
 * a Distribution per series while the bucket takes values, then, once a
 * newer bucket begins in the tier, sealed into bytes (sketch-codec.ts) in
 * the slot's one buffer (slot-arena.ts), read back to the same answers. A
 * late value for a sealed bucket brings its series' record back to a
 * Distribution until the next seal. Each tier knows which bucket each slot
 * holds; a slot is cleared in every series when a newer bucket takes it or
 * when it ages out.
 *
 * Every new series is placed by the cardinality budget (series-budget.ts),
 * which may fold it. A series with no data for the idle time gives its budget
 * back but stays queryable (retired) until the retention, or until more than
 * `global` series are retired (the longest idle go first); written again, it
 * is placed again. Owned by one thread (the engine's).
 */
import type { DeltaCell, HistogramTotal } from './cells';
import { formatDuration } from './duration';
import { budgetKey, type MetricFamily, type MetricKind } from './families';
import { Distribution } from './distribution';
import { RecordView } from './sketch-codec';
import { SlotArena } from './slot-arena';
import { DEFAULT_SERIES_LIMITS, SeriesBudget, type SeriesBudgetLimits, type SeriesBudgetStats } from './series-budget';

export const RESOLUTION_MS = 10_000;
const DAY_MS = 86_400_000;

/**
 * The tiers for a retention: fine ones for short windows, one coarse tier
 * that reaches the retention. Histograms keep hours in the coarse tier (a
 * sketch costs far more than a counter's 8 bytes); counters quarter hours.
 */
function tierPlan(retentionMs: number, kind: MetricKind): Tier[] {
  const coarseMs = kind === 'counter' && retentionMs <= DAY_MS ? 900_000 : 3_600_000;
  const plan = [
    { resolutionMs: RESOLUTION_MS, spanMs: 15 * 60_000 },
    { resolutionMs: 60_000, spanMs: 3_600_000 },
    { resolutionMs: coarseMs, spanMs: retentionMs },
  ];
  const out: Tier[] = [];
  for (const t of plan) {
    out.push(new Tier(t.resolutionMs, Math.min(t.spanMs, retentionMs), kind));
    if (t.spanMs >= retentionMs) break;
  }
  return out;
}

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
  /** A number no other live series has (its histogram buckets are found by it); reused once the series is forgotten. */
  readonly id: number;
  readonly family: MetricFamily;
  readonly key: string;
  readonly labels: readonly string[];
  /** Counters: the sum since the series appeared. Histograms: count, sum, fixed buckets. */
  readonly total: { value: number; histogram?: HistogramTotal };
  /**
   * Since when `total` counts (Unix ms): the start of the bucket of the cell
   * that made the series. Fixed for the series' life (OTLP's start time; a
   * new series, after one was forgotten, starts again from 0 and a new time).
   */
  readonly startMs: number;
  lastBucketMs: number;
  /** Whether it holds budget (false once idle: retired, still queryable). */
  holdsBudget: boolean;
  /** Counters: one ring per tier, made on the first write to that tier (histograms are held by the tiers). */
  readonly rings: (Float64Array | undefined)[];
}

class Tier {
  readonly resolutionMs: number;
  readonly spanMs: number;
  readonly slots: number;
  /** The bucket start each slot holds, for every series alike; NaN when none. */
  readonly starts: Float64Array;
  /** The start of the newest bucket written. */
  newestStartMs = -Infinity;
  /** Histograms, per slot: the buckets taking values, by series id. */
  readonly live: (Map<number, Distribution> | undefined)[];
  /** Histograms, per slot: the sealed buckets. */
  readonly sealed: SlotArena[];

  constructor(resolutionMs: number, spanMs: number, kind: MetricKind) {
    this.resolutionMs = resolutionMs;
    this.spanMs = spanMs;
    // One more than the span holds: the bucket in progress plus a full span behind it.
    this.slots = Math.ceil(spanMs / resolutionMs) + 1;
    this.starts = new Float64Array(this.slots).fill(NaN);
    this.live = new Array<Map<number, Distribution> | undefined>(kind === 'histogram' ? this.slots : 0).fill(undefined);
    this.sealed = kind === 'histogram' ? Array.from({ length: this.slots }, () => new SlotArena()) : [];
  }

  slotOf(startMs: number): number {
    return Math.floor(startMs / this.resolutionMs) % this.slots;
  }
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
  tiers: { kind: string; resolution: string; span: string; buckets: number }[];
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
  private readonly tiers: Record<MetricKind, Tier[]>;
  private readonly series = new Map<string, Series>();
  private readonly byFamily = new Map<MetricFamily, Set<Series>>();
  private readonly budget: SeriesBudget;
  private readonly idleMs: number;
  /** Retired series kept queryable at most. */
  private readonly maxRetired: number;
  private lateCells = 0;
  private readonly seriesListeners: ((series: Series) => void)[] = [];
  /** Start of the earliest bucket ever ingested: rates are not diluted by time before the first data. */
  private originMs = Infinity;
  /** Series ids given back by forgotten series, and the next one never given. */
  private readonly freeIds: number[] = [];
  private nextId = 0;
  /** Where queries read sealed buckets (reused). */
  private readonly view = new RecordView();

  constructor(options: StoreOptions) {
    this.families = new Map(options.families.map((f) => [f.name, f]));
    for (const f of options.families) this.byFamily.set(f, new Set());
    this.retentionMs = options.retentionMs;
    this.now = options.now;
    this.budget = new SeriesBudget(options.limits);
    this.idleMs = options.limits.idleMs ?? DEFAULT_SERIES_LIMITS.idleMs;
    this.maxRetired = options.limits.global;
    this.tiers = { counter: tierPlan(options.retentionMs, 'counter'), histogram: tierPlan(options.retentionMs, 'histogram') };
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
      const series = this.seriesFor(family, c.labels, c.key, c.bucketMs);
      if (c.bucketMs > series.lastBucketMs) series.lastBucketMs = c.bucketMs;
      if (c.bucketMs < this.originMs) this.originMs = c.bucketMs;
      addTotal(series, c);
      this.tiers[family.kind].forEach((tier, t) => {
        const start = c.bucketMs - (c.bucketMs % tier.resolutionMs);
        if (start + tier.resolutionMs <= now - tier.spanMs) return; // already aged out of this tier
        const slot = tier.slotOf(start);
        const held = tier.starts[slot];
        if (held > start) return; // a newer bucket holds the slot: this one is gone from the tier
        if (held !== start) {
          this.clearSlot(family.kind, t, slot);
          if (start > tier.newestStartMs) {
            if (family.kind === 'histogram') sealLive(tier);
            tier.newestStartMs = start;
          }
          tier.starts[slot] = start;
        }
        if (family.kind === 'histogram') {
          if (c.dist) liveBucket(tier, slot, series.id).merge(c.dist);
          return;
        }
        let ring = series.rings[t];
        if (!ring) series.rings[t] = ring = new Float64Array(tier.slots);
        ring[slot] += c.value;
      });
    }
  }

  /** Called with each series when it first appears (live views announce them). */
  onNewSeries(listener: (series: Series) => void): void {
    this.seriesListeners.push(listener);
  }

  /** Frees buckets older than their tier's span, releases the budget of idle series, and forgets series idle for the retention. */
  expire(): void {
    const now = this.now();
    for (const kind of ['counter', 'histogram'] as const) {
      this.tiers[kind].forEach((tier, t) => {
        for (let slot = 0; slot < tier.slots; slot++) {
          if (tier.starts[slot] + tier.resolutionMs <= now - tier.spanMs) {
            this.clearSlot(kind, t, slot);
            tier.starts[slot] = NaN;
          }
        }
      });
    }
    const retired: Series[] = [];
    for (const s of this.series.values()) {
      const endMs = s.lastBucketMs + RESOLUTION_MS;
      if (endMs <= now - this.retentionMs) this.forget(s);
      else {
        if (s.holdsBudget && endMs <= now - this.idleMs) {
          this.budget.release(s.family, s.key);
          s.holdsBudget = false;
        }
        if (!s.holdsBudget) retired.push(s);
      }
    }
    if (retired.length > this.maxRetired) {
      retired.sort((a, b) => a.lastBucketMs - b.lastBucketMs);
      for (const s of retired.slice(0, retired.length - this.maxRetired)) this.forget(s);
    }
  }

  private forget(s: Series): void {
    this.series.delete(budgetKey(s.family, s.key));
    this.byFamily.get(s.family)?.delete(s);
    if (s.holdsBudget) this.budget.release(s.family, s.key);
    for (const tier of this.tiers.histogram) {
      for (let slot = 0; slot < tier.slots; slot++) {
        tier.live[slot]?.delete(s.id);
        tier.sealed[slot].drop(s.id);
      }
    }
    this.freeIds.push(s.id);
  }

  /** The store's clock (Unix ms): what "now" means for its queries. Read it once per request. */
  nowMs(): number {
    return this.now();
  }

  /** Every live series of a family, with its totals (for exporters). */
  seriesOf(metric: string): IterableIterator<Series> {
    const family = this.families.get(metric);
    return (family ? this.byFamily.get(family) ?? new Set<Series>() : new Set<Series>()).values();
  }

  /** Summaries over the `windowMs` ending at nowMs (default: the store's clock, read once), one row per series or per group. */
  window(selector: Selector, windowMs: number, nowMs: number = this.now()): WindowRow[] {
    const family = this.familyOf(selector);
    const problem = this.windowProblem(windowMs, family.kind);
    if (problem) throw new StoreQueryError('window', `${formatDuration(windowMs)} ${problem}`);
    const t = this.tierIndexFor(family.kind, windowMs, 'window');
    const res = this.tiers[family.kind][t].resolutionMs;
    const now = nowMs;
    const alignedNow = now - (now % res);
    const startMs = alignedNow + res - windowMs;
    const groups = this.collect(family, compileMatchers(family, selector.match ?? {}), selector.by, t, startMs, alignedNow + res);
    const seconds = coveredSeconds(now, Math.max(startMs, this.originMs));
    return [...groups.values()].map((g) => ({ labels: g.labels, summary: summarize(g.acc, seconds) }));
  }

  /**
   * Summaries per step over [startMs, endMs]: points at step starts, each
   * covering [t, t + step); only where there is data. The tier is the one
   * that keeps startMs at nowMs (default: the store's clock): a caller that
   * chose the step for a span passes the "now" it measured that span from.
   */
  range(selector: Selector, startMs: number, endMs: number, stepMs: number, nowMs: number = this.now()): RangeRow[] {
    const family = this.familyOf(selector);
    if (!(endMs >= startMs)) throw new StoreQueryError('end', 'must not be before start');
    const now = nowMs;
    const t = this.tierIndexFor(family.kind, Math.max(now - startMs, 1), 'start');
    const res = this.tiers[family.kind][t].resolutionMs;
    if (stepMs < res || stepMs % res !== 0) {
      throw new StoreQueryError('step', `${formatDuration(stepMs)} must be a multiple of ${formatDuration(res)}, the resolution kept that far back`);
    }
    const first = startMs - (startMs % stepMs);
    const points = Math.floor((endMs - first) / stepMs) + 1;
    if (points > MAX_RANGE_POINTS) throw new StoreQueryError('step', `${points} points per series; at most ${MAX_RANGE_POINTS}: use a larger step`);
    const rows = new Map<string, RangeRow>();
    const matches = compileMatchers(family, selector.match ?? {});
    for (let at = first; at <= endMs; at += stepMs) {
      for (const [key, g] of this.collect(family, matches, selector.by, t, at, at + stepMs)) {
        let row = rows.get(key);
        if (!row) rows.set(key, (row = { labels: g.labels, points: [] }));
        row.points.push({ t: at, summary: summarize(g.acc, stepMs / 1000) });
      }
    }
    return [...rows.values()];
  }

  /** Why a window of this length cannot be served (for this kind, or for any), or undefined when it can. */
  windowProblem(windowMs: number, kind?: MetricKind): string | undefined {
    if (!Number.isInteger(windowMs) || windowMs < RESOLUTION_MS) return `must be at least ${formatDuration(RESOLUTION_MS)}`;
    for (const k of kind ? [kind] : (['counter', 'histogram'] as const)) {
      const tier = this.tiers[k].find((t) => t.spanMs >= windowMs);
      if (!tier) return `is beyond the retention of ${formatDuration(this.retentionMs)}`;
      if (windowMs % tier.resolutionMs !== 0) return `is not a multiple of ${formatDuration(tier.resolutionMs)}, the resolution kept for ${k} windows this long`;
    }
    return undefined;
  }

  /** The finest step a range reaching `spanMs` back can use for this kind of family. */
  resolutionFor(kind: MetricKind, spanMs: number): number {
    return this.tiers[kind][this.tierIndexFor(kind, spanMs, 'start')].resolutionMs;
  }

  /** Live series, cheaply (stats() also counts cells, which walks every ring). */
  get seriesCount(): number {
    return this.series.size;
  }

  budgetStats(): SeriesBudgetStats {
    return this.budget.stats();
  }

  stats(): StoreStats {
    let cells = 0;
    for (const s of this.series.values()) for (const ring of s.rings) if (ring) for (const v of ring) cells += v !== 0 ? 1 : 0;
    for (const tier of this.tiers.histogram) {
      for (let slot = 0; slot < tier.slots; slot++) cells += (tier.live[slot]?.size ?? 0) + tier.sealed[slot].records;
    }
    return {
      series: this.series.size,
      cells,
      lateCells: this.lateCells,
      budget: this.budget.stats(),
      tiers: [...this.tiers.counter, ...this.tiers.histogram].map((t, i) => ({
        kind: i < this.tiers.counter.length ? 'counter' : 'histogram',
        resolution: formatDuration(t.resolutionMs),
        span: formatDuration(t.spanMs),
        buckets: t.starts.reduce((n, start) => n + (Number.isNaN(start) ? 0 : 1), 0),
      })),
    };
  }

  private *seriesOfKind(kind: MetricKind): IterableIterator<Series> {
    for (const [family, set] of this.byFamily) if (family.kind === kind) yield* set;
  }

  /** The slot now belongs to another bucket (or none): its old values go, in every series. */
  private clearSlot(kind: MetricKind, t: number, slot: number): void {
    const tier = this.tiers[kind][t];
    if (Number.isNaN(tier.starts[slot])) return;
    if (kind === 'histogram') {
      tier.live[slot] = undefined;
      tier.sealed[slot].clear();
      return;
    }
    for (const s of this.seriesOfKind(kind)) {
      const ring = s.rings[t];
      if (ring) ring[slot] = 0;
    }
  }

  /** The series to merge into: its own while it holds budget, else where the budget places it (its own again, or a folded one). */
  private seriesFor(family: MetricFamily, labels: string[], key: string, bucketMs: number): Series {
    const known = this.series.get(budgetKey(family, key));
    if (known?.holdsBudget) return known;
    const placed = this.budget.place(family, labels);
    const id = budgetKey(family, placed.key);
    const existing = this.series.get(id);
    if (existing) {
      existing.holdsBudget = true;
      return existing;
    }
    const created: Series = {
      id: this.freeIds.pop() ?? this.nextId++,
      family,
      key: placed.key,
      labels: placed.labels,
      total: family.kind === 'histogram' ? { value: 0, histogram: { count: 0, sum: 0, bounds: new Array((family.boundaries?.length ?? 0) + 1).fill(0) } } : { value: 0 },
      startMs: bucketMs,
      lastBucketMs: -Infinity,
      holdsBudget: true,
      rings: [],
    };
    this.series.set(id, created);
    this.byFamily.get(family)?.add(created);
    for (const listener of this.seriesListeners) listener(created);
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
  private tierIndexFor(kind: MetricKind, spanMs: number, field: string): number {
    const t = this.tiers[kind].findIndex((tier) => tier.spanMs >= spanMs);
    if (t < 0) throw new StoreQueryError(field, `${formatDuration(spanMs)} is beyond the retention of ${formatDuration(this.retentionMs)}`);
    return t;
  }

  /** Accumulates the slots of matching series for buckets starting in [fromMs, toMs), per group. */
  private collect(family: MetricFamily, matches: Matcher, by: readonly string[] | undefined, t: number, fromMs: number, toMs: number): Map<string, Group> {
    const tier = this.tiers[family.kind][t];
    const slots: number[] = [];
    for (let b = fromMs - (fromMs % tier.resolutionMs); b < toMs; b += tier.resolutionMs) {
      const slot = tier.slotOf(b);
      if (b >= fromMs && tier.starts[slot] === b) slots.push(slot);
    }
    const groups = new Map<string, Group>();
    if (slots.length === 0) return groups;
    const groupIndexes = by ? by.map((name) => family.labels.indexOf(name)) : family.labels.map((_, i) => i);
    const histogram = family.kind === 'histogram';
    for (const series of this.byFamily.get(family) ?? []) {
      const ring = series.rings[t];
      if (!(histogram || ring) || !matches(series.labels)) continue;
      let has = false;
      for (const slot of slots) has ||= histogram ? tier.live[slot]?.has(series.id) === true || tier.sealed[slot].recordOf(series.id) >= 0 : ring![slot] !== 0;
      if (!has) continue;
      const key = groupIndexes.map((i) => series.labels[i]).join('\u0001');
      let g = groups.get(key);
      if (!g) {
        const labels: Record<string, string> = {};
        for (const i of groupIndexes) labels[family.labels[i]] = series.labels[i];
        groups.set(key, (g = { labels, acc: histogram ? new Distribution() : { value: 0 } }));
      }
      const acc = g.acc;
      if (acc instanceof Distribution) {
        // Slot by slot, as the values were merged: the same sums to the last bit.
        for (const slot of slots) {
          const live = tier.live[slot]?.get(series.id);
          if (live) acc.merge(live);
          else if (tier.sealed[slot].read(series.id, this.view)) acc.merge(this.view);
        }
      } else {
        for (const slot of slots) acc.value += ring![slot];
      }
    }
    return groups;
  }
}

const unsealed = new RecordView();

/** Series `id`'s Distribution for the bucket in `slot`: its sealed record brought back, or a new one. */
function liveBucket(tier: Tier, slot: number, id: number): Distribution {
  let live = tier.live[slot];
  if (!live) tier.live[slot] = live = new Map();
  let d = live.get(id);
  if (d) return d;
  d = new Distribution();
  const sealed = tier.sealed[slot];
  if (sealed.read(id, unsealed)) {
    d.merge(unsealed);
    sealed.drop(id);
  }
  live.set(id, d);
  return d;
}

/** A newer bucket begins in the tier: every bucket still taking values will see few more, so they are sealed. */
function sealLive(tier: Tier): void {
  for (let slot = 0; slot < tier.slots; slot++) {
    const live = tier.live[slot];
    if (!live) continue;
    const sealed = tier.sealed[slot];
    for (const [id, d] of live) sealed.seal(id, d.toData());
    tier.live[slot] = undefined;
    sealed.trim();
  }
}

interface Group {
  labels: Record<string, string>;
  acc: { value: number } | Distribution;
}

function addTotal(series: Series, c: DeltaCell): void {
  const h = series.total.histogram;
  if (!h) {
    series.total.value += c.value;
    return;
  }
  series.total.value += c.value;
  h.count += c.value;
  h.sum += c.dist?.sum ?? 0;
  c.bounds?.forEach((n, i) => (h.bounds[i] += n));
}

function coveredSeconds(nowMs: number, fromMs: number): number {
  return Math.max((nowMs - fromMs) / 1000, 1);
}

function summarize(acc: Group['acc'], seconds: number): Summary {
  if (!(acc instanceof Distribution)) return { value: acc.value, rate: acc.value / seconds };
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

type Matcher = (labels: readonly string[]) => boolean;

function compileMatchers(family: MetricFamily, match: Record<string, LabelMatcher>): Matcher {
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

