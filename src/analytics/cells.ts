/**
 * The aggregates one series holds for one time bucket in a shard, and the plain-data form
 * in which shards hand them to the store (structured-clone friendly, no class
 * instances). Counters add and histograms merge exactly, so it does not matter
 * which shard or which flush an observation travelled in.
 */
import { Distribution, type DistributionData } from './distribution';

export class CounterCell {
  value = 0;
}

/** A histogram for one bucket of one publication: the values, and counts per fixed boundary. */
export class HistogramCell {
  readonly values = new Distribution();
  /** Non-cumulative counts per fixed boundary (last: above every boundary). */
  readonly bounds: Float64Array;
  private readonly boundaries: readonly number[];

  constructor(boundaries: readonly number[]) {
    this.boundaries = boundaries;
    this.bounds = new Float64Array(boundaries.length + 1);
  }

  observe(value: number): void {
    this.values.record(value);
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.bounds[i]++;
  }

  /** Back to empty, for the next publication. */
  reset(): void {
    this.values.clear();
    this.bounds.fill(0);
  }
}

/** One series' aggregate for one bucket, as a shard publishes it. The receiver owns it. */
export interface DeltaCell {
  family: string;
  labels: string[];
  key: string;
  /** Start of the bucket (Unix ms, a multiple of the finest resolution). */
  bucketMs: number;
  /** Counters: the increase. Histograms: the number of observations. */
  value: number;
  /** Histograms: the observations, and their counts per fixed boundary. */
  dist?: DistributionData;
  bounds?: number[];
}

/** What a histogram series accumulates since it appeared: what Prometheus exports. */
export interface HistogramTotal {
  count: number;
  sum: number;
  /** Non-cumulative counts per boundary; the last is above every boundary. */
  bounds: number[];
}
