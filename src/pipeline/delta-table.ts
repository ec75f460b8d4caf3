/**
 * A shard's aggregates since its last publication: per time bucket, per
 * family, per series, one cell. Processors write through handles that cache
 * an identity's cells for the bucket being written, so most writes are an
 * array read and an add.
 *
 *   processor --IdentitySeries.add(event)--> identity.cells[slot] (cached)
 *                                            `-> DeltaTable bucket → family → series key → cell
 *   drain() --> DeltaCell[] (plain data) and an empty table
 *
 * The shard's own cardinality budget bounds what one publication can hold;
 * the store applies the authoritative one.
 */
import { CounterCell, HistogramCell, type DeltaCell } from '../analytics/cells';
import { overflowLabels, seriesKey, type MetricFamily } from '../analytics/families';
import { SeriesBudget, type SeriesBudgetLimits } from '../analytics/series-budget';
import type { ExchangeEvent, Identity } from './exchange-event';

export type Cell = CounterCell | HistogramCell;

export interface SeriesCell {
  labels: string[];
  cell: Cell;
  overflow: boolean;
}

/** What a processor did, summed over a shard's life. */
export interface ProcessorStats {
  eventsIn: number;
  /** Writes into series. */
  writes: number;
  /** Writes that went into an overflow series (cardinality budget spent). */
  folded: number;
  timeNs: number;
}

export const emptyProcessorStats = (): ProcessorStats => ({ eventsIn: 0, writes: 0, folded: 0, timeNs: 0 });

export class DeltaTable {
  /** Bumped whenever cached cells become invalid: a new current bucket, or a drain. */
  epoch = 0;
  currentBucketMs = NaN;
  private current: Map<string, SeriesCell>[] = [];
  private readonly buckets = new Map<number, Map<string, SeriesCell>[]>();
  private budget: SeriesBudget;
  readonly families: readonly MetricFamily[];
  private readonly limits: SeriesBudgetLimits;

  constructor(families: readonly MetricFamily[], limits: SeriesBudgetLimits) {
    this.families = families;
    this.limits = limits;
    this.budget = new SeriesBudget(limits);
  }

  select(bucketMs: number): void {
    let tables = this.buckets.get(bucketMs);
    if (!tables) this.buckets.set(bucketMs, (tables = this.families.map(() => new Map())));
    this.current = tables;
    this.currentBucketMs = bucketMs;
    this.epoch++;
  }

  /** The series cell of family `f` with these labels in the current bucket. */
  resolve(f: number, labels: string[]): SeriesCell {
    const table = this.current[f];
    const key = seriesKey(labels);
    const found = table.get(key);
    if (found) return found;
    const family = this.families[f];
    const service = labels[family.labels.indexOf(family.serviceLabel)];
    const admission = this.budget.admit(service, family.name + '\u0002' + key);
    if (admission !== 'admitted') {
      const folded = overflowLabels(family, labels, admission);
      const foldedKey = seriesKey(folded);
      let overflow = table.get(foldedKey);
      if (!overflow) table.set(foldedKey, (overflow = { labels: folded, cell: newCell(family), overflow: true }));
      return overflow;
    }
    const created = { labels, cell: newCell(family), overflow: false };
    table.set(key, created);
    return created;
  }

  /** Everything since the last drain, as plain data; the table starts empty. */
  drain(): DeltaCell[] {
    const out: DeltaCell[] = [];
    for (const [bucketMs, tables] of this.buckets) {
      tables.forEach((table, f) => {
        const family = this.families[f];
        for (const [key, s] of table) {
          const cell = s.cell;
          if (cell instanceof CounterCell) {
            out.push({ family: family.name, labels: s.labels, key, bucketMs, value: cell.value });
          } else {
            out.push({ family: family.name, labels: s.labels, key, bucketMs, value: cell.hist.count, hist: cell.hist.toData(), bounds: Array.from(cell.bounds) });
          }
        }
      });
    }
    this.buckets.clear();
    this.current = [];
    this.currentBucketMs = NaN;
    this.budget = new SeriesBudget(this.limits);
    this.epoch++;
    return out;
  }
}

function newCell(family: MetricFamily): Cell {
  return family.kind === 'counter' ? new CounterCell() : new HistogramCell(family.boundaries ?? []);
}

/**
 * A family written once per event for the event's identity; labelsOf says
 * which series (undefined: this identity has none in the family, e.g. no
 * error). Disabled families cost one cached null per identity and bucket.
 */
export class IdentitySeries {
  private readonly table: DeltaTable;
  private readonly family: number;
  private readonly slot: number;
  private readonly enabled: boolean;
  private readonly labelsOf: (id: Identity) => string[] | undefined;
  private readonly stats: ProcessorStats;

  constructor(table: DeltaTable, family: number, slot: number, enabled: boolean, labelsOf: (id: Identity) => string[] | undefined, stats: ProcessorStats) {
    this.table = table;
    this.family = family;
    this.slot = slot;
    this.enabled = enabled;
    this.labelsOf = labelsOf;
    this.stats = stats;
  }

  add(event: ExchangeEvent, value: number): void {
    const s = this.cell(event);
    if (s) (s.cell as CounterCell).value += value;
  }

  observe(event: ExchangeEvent, value: number): void {
    const s = this.cell(event);
    if (s) (s.cell as HistogramCell).observe(value);
  }

  private cell(event: ExchangeEvent): SeriesCell | null {
    const table = this.table;
    if (event.bucketMs !== table.currentBucketMs) table.select(event.bucketMs);
    const id = event.identity;
    if (id.epoch !== table.epoch) {
      id.epoch = table.epoch;
      id.cells.length = 0;
    }
    let s = id.cells[this.slot];
    if (s === undefined) {
      const labels = this.enabled ? this.labelsOf(id) : undefined;
      s = id.cells[this.slot] = labels ? table.resolve(this.family, labels) : null;
    }
    if (s) {
      this.stats.writes++;
      if (s.overflow) this.stats.folded++;
    }
    return s;
  }
}

/**
 * A family whose labels are not a function of the identity (per process, for
 * example): the caller gives a numeric cache key and the labels for it.
 */
export class KeyedSeries {
  private readonly table: DeltaTable;
  private readonly family: number;
  private readonly enabled: boolean;
  private readonly stats: ProcessorStats;
  private cache = new Map<number, SeriesCell>();
  private cacheEpoch = -1;

  constructor(table: DeltaTable, family: number, enabled: boolean, stats: ProcessorStats) {
    this.table = table;
    this.family = family;
    this.enabled = enabled;
    this.stats = stats;
  }

  add(event: ExchangeEvent, cacheKey: number, labelsOf: (event: ExchangeEvent) => string[], value: number): void {
    if (!this.enabled) return;
    const table = this.table;
    if (event.bucketMs !== table.currentBucketMs) table.select(event.bucketMs);
    if (this.cacheEpoch !== table.epoch) {
      this.cacheEpoch = table.epoch;
      this.cache.clear();
    }
    let s = this.cache.get(cacheKey);
    if (!s) this.cache.set(cacheKey, (s = table.resolve(this.family, labelsOf(event))));
    (s.cell as CounterCell).value += value;
    this.stats.writes++;
    if (s.overflow) this.stats.folded++;
  }
}
