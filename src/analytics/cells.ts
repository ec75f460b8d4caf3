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

/**
 * A histogram for one bucket of one publication. Most hold a handful of
 * values (a route's exchanges in one second), so values are kept as they are
 * up to SAMPLES_MAX and only then folded into a sketch: no sketch is built,
 * grown and serialised for ten values.
 */
export class HistogramCell {
  static readonly SAMPLES_MAX = 64;
  private samples: number[] = [];
  /** Made once the samples overflow; kept, emptied, across publications. */
  private hist: LogHistogram | undefined;
  private sketching = false;
  /** Non-cumulative counts per fixed boundary (last: above every boundary). */
  readonly bounds: Float64Array;
  private readonly boundaries: readonly number[];
  count = 0;
  sum = 0;

  constructor(boundaries: readonly number[]) {
    this.boundaries = boundaries;
    this.bounds = new Float64Array(boundaries.length + 1);
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.bounds[i]++;
    if (this.sketching) {
      this.hist!.record(value);
      return;
    }
    this.samples.push(value);
    if (this.samples.length <= HistogramCell.SAMPLES_MAX) return;
    this.hist ??= new LogHistogram();
    for (const v of this.samples) this.hist.record(v);
    this.samples = [];
    this.sketching = true;
  }

  /** Back to empty, for the next publication. */
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.bounds.fill(0);
    if (this.sketching) this.hist!.clear();
    else this.samples = [];
    this.sketching = false;
  }

  /** The values as published: raw samples, or the sketch once there were many. */
  toDelta(): Pick<DeltaCell, 'samples' | 'hist'> {
    return this.sketching ? { hist: this.hist!.toData() } : { samples: this.samples };
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
  /** Histograms: the sum of the observations, and either the observations themselves or a sketch of them. */
  sum?: number;
  samples?: number[];
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
