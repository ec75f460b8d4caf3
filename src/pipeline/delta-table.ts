/**
 * A shard's aggregates since its last publication: per time bucket, per
 * family, per series, one cell. Processors write through handles that cache
 * an identity's cells for the bucket being written, so most writes are an
 * array read and an add.
 *
 *   processor --IdentitySeries.add(group)--> identity.cells[slot] (cached)
 *                                            `-> DeltaTable bucket → family → series key → cell
 *   drain() --> DeltaCell[] (plain data); cells of the current bucket are
 *               zeroed in place (so cached handles stay valid), older buckets dropped
 *
 * The shard's own cardinality budget (the same ladder as the store's) bounds
 * the series its tables hold. A series holds it while the bucket being
 * written or one not yet published has it: a published bucket is dropped as
 * soon as another is selected, so the shard folds only what the traffic
 * since the last publication cannot hold; the store applies the
 * authoritative budget, over the idle time.
 */
import { CounterCell, HistogramCell, type DeltaCell } from '../analytics/cells';
import { seriesKey, type MetricFamily } from '../analytics/families';
import { SeriesBudget, type SeriesBudgetLimits } from '../analytics/series-budget';
import type { Identity } from './exchange-event';

export type Cell = CounterCell | HistogramCell;

export interface SeriesCell {
  labels: string[];
  cell: Cell;
  /** Whether the labels are folded (the cardinality budget was tight). */
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
  /** Bumped whenever cached cells become invalid: a new current bucket, or its table dropped. */
  epoch = 0;
  currentBucketMs = NaN;
  /** Whether the current bucket was selected since the last drain; writers select it again first when not. */
  currentUnpublished = false;
  private current: Map<string, SeriesCell>[] = [];
  private readonly buckets = new Map<number, Map<string, SeriesCell>[]>();
  /** Buckets selected since the last drain: they may hold unpublished values. */
  private readonly unpublished = new Set<number>();
  private readonly budget: SeriesBudget;
  readonly families: readonly MetricFamily[];

  constructor(families: readonly MetricFamily[], limits: SeriesBudgetLimits) {
    this.families = families;
    this.budget = new SeriesBudget(limits);
  }

  /** Makes `bucketMs` the bucket written; buckets already published are dropped (their series give back the budget). */
  select(bucketMs: number): void {
    this.unpublished.add(bucketMs);
    this.currentUnpublished = true;
    if (bucketMs === this.currentBucketMs) return;
    for (const other of this.buckets.keys()) if (!this.unpublished.has(other)) this.drop(other);
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
    const placed = this.budget.place(family, labels);
    let s = table.get(placed.key);
    if (!s) table.set(placed.key, (s = { labels: placed.labels, cell: newCell(family), overflow: placed.folded !== undefined }));
    return s;
  }

  /**
   * Everything written since the last drain, as plain data. The current
   * bucket's cells are zeroed in place (cached handles stay valid); other
   * buckets are dropped.
   */
  drain(): DeltaCell[] {
    const out: DeltaCell[] = [];
    for (const [bucketMs, tables] of this.buckets) {
      const keep = bucketMs === this.currentBucketMs;
      tables.forEach((table, f) => {
        const family = this.families[f];
        for (const [key, s] of table) {
          const cell = s.cell;
          if (cell instanceof CounterCell) {
            if (cell.value !== 0) out.push({ family: family.name, labels: s.labels, key, bucketMs, value: cell.value });
            cell.value = 0;
          } else {
            if (cell.count > 0) out.push({ family: family.name, labels: s.labels, key, bucketMs, value: cell.count, dist: cell.toData(), bounds: cell.boundCounts() });
            cell.reset();
          }
        }
      });
      if (!keep) this.drop(bucketMs);
    }
    this.unpublished.clear();
    this.currentUnpublished = false;
    return out;
  }

  /** Forgets a bucket; its series leave the budget unless another bucket has them too. */
  private drop(bucketMs: number): void {
    const tables = this.buckets.get(bucketMs)!;
    this.buckets.delete(bucketMs);
    if (bucketMs === this.currentBucketMs) {
      this.currentBucketMs = NaN;
      this.current = [];
      this.epoch++;
    }
    const others = [...this.buckets.values()];
    tables.forEach((table, f) => {
      for (const key of table.keys()) if (!others.some((other) => other[f].has(key))) this.budget.release(this.families[f], key);
    });
  }
}

function newCell(family: MetricFamily): Cell {
  return family.kind === 'counter' ? new CounterCell() : new HistogramCell(family.boundaries ?? []);
}

/** What a series handle needs of an identity: its cells in the bucket being written, cached by slot. */
export interface CellOwner {
  epoch: number;
  readonly cells: (SeriesCell | null | undefined)[];
}

/** The events of one batch with one identity and one time bucket (an ExchangeGroup, a TcpGroup). */
export interface OwnedGroup<I extends CellOwner> {
  identity: I;
  bucketMs: number;
}

/**
 * A family written for a group's identity; labelsOf says which series
 * (undefined: this identity has none in the family, e.g. no error). Disabled
 * families cost one cached null per identity and bucket.
 */
export class IdentitySeries<I extends CellOwner = Identity> {
  private readonly table: DeltaTable;
  private readonly family: number;
  private readonly slot: number;
  private readonly enabled: boolean;
  private readonly labelsOf: (id: I) => string[] | undefined;
  private readonly stats: ProcessorStats;

  constructor(table: DeltaTable, family: number, slot: number, enabled: boolean, labelsOf: (id: I) => string[] | undefined, stats: ProcessorStats) {
    this.table = table;
    this.family = family;
    this.slot = slot;
    this.enabled = enabled;
    this.labelsOf = labelsOf;
    this.stats = stats;
  }

  /** Adds to the group's counter series. */
  add(group: OwnedGroup<I>, value: number): void {
    const s = this.cell(group);
    if (s) (s.cell as CounterCell).value += value;
  }

  /** Observes values[0, count) in the group's histogram series. */
  observe(group: OwnedGroup<I>, values: Float64Array, count: number): void {
    const s = this.cell(group);
    if (!s) return;
    (s.cell as HistogramCell).observeAll(values, count);
  }

  private cell(group: OwnedGroup<I>): SeriesCell | null {
    const table = this.table;
    if (group.bucketMs !== table.currentBucketMs || !table.currentUnpublished) table.select(group.bucketMs);
    const id = group.identity;
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
