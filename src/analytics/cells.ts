/**
 * The aggregates one series holds for one time bucket, and the plain-data form
 * in which shards hand them to the store (structured-clone friendly, no class
 * instances). Counters add and histograms merge exactly, so it does not matter
 * which shard or which flush an observation travelled in.
 */
import { LogHistogram, type LogHistogramData } from './log-histogram';

export class CounterCell {
  value = 0;
}

export class HistogramCell {
  readonly hist = new LogHistogram();
  /** Non-cumulative counts per fixed boundary (last: above every boundary). */
  readonly bounds: Float64Array;
  private readonly boundaries: readonly number[];

  constructor(boundaries: readonly number[]) {
    this.boundaries = boundaries;
    this.bounds = new Float64Array(boundaries.length + 1);
  }

  observe(value: number): void {
    this.hist.record(value);
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.bounds[i]++;
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
  hist?: LogHistogramData;
  bounds?: number[];
}

/** What a histogram series accumulates since it appeared: what Prometheus exports. */
export interface HistogramTotal {
  count: number;
  sum: number;
  /** Non-cumulative counts per boundary; the last is above every boundary. */
  bounds: number[];
}
