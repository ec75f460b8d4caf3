/**
 * The values of a histogram series in one bucket: kept as they are while
 * there are few (exact quantiles, a few bytes each), folded into a
 * LogHistogram sketch (1 % quantiles, fixed size) past SAMPLES_MAX. Most
 * buckets of most series hold a handful of exchanges, so most never build a
 * sketch. Merging is exact either way: a merge that crosses the threshold
 * sketches every value, so the result never depends on how the values were
 * split between shards or publications.
 */
import { LogHistogram, type LogHistogramData } from './log-histogram';

export const SAMPLES_MAX = 64;

/** Plain data, for transfer between threads: the samples, or the sketch. */
export interface DistributionData {
  count: number;
  sum: number;
  min: number;
  max: number;
  samples?: number[];
  sketch?: LogHistogramData;
}

export class Distribution {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** A plain array: small typed arrays cost some 250 bytes each outside the values. */
  private samples: number[] = [];
  private sketch: LogHistogram | undefined;

  record(value: number): void {
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (this.sketch) {
      this.sketch.record(value);
      return;
    }
    if (this.samples.length < SAMPLES_MAX) {
      this.samples.push(value);
      return;
    }
    this.toSketch().record(value);
  }

  merge(other: Distribution | DistributionData): void {
    if (other.count === 0) return;
    const otherSamples = other instanceof Distribution ? (other.sketch ? undefined : other.samples) : other.samples;
    const otherSketch = other instanceof Distribution ? other.sketch : other.sketch; // narrowed apart: the class keeps it private
    const before = this.count;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    if (!this.sketch && !otherSketch && this.count <= SAMPLES_MAX) {
      for (const v of otherSamples!) this.samples.push(v);
      return;
    }
    const sketch = this.sketch ?? this.toSketch(before);
    if (otherSketch) sketch.merge(otherSketch);
    else for (const v of otherSamples!) sketch.record(v);
  }

  /** The value at rank floor(q (count - 1)): exact from samples, within 1 % from a sketch. NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    if (this.sketch) return this.sketch.quantile(q);
    const sorted = Float64Array.from(this.samples).sort();
    return sorted[Math.floor(q * (this.count - 1))];
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  /** Back to empty. */
  clear(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.samples = [];
    this.sketch = undefined;
  }

  toData(): DistributionData {
    const { count, sum, min, max } = this;
    return this.sketch ? { count, sum, min, max, sketch: this.sketch.toData() } : { count, sum, min, max, samples: this.samples.slice() };
  }

  /** Moves the first `n` samples into a new sketch. */
  private toSketch(n = this.count - 1): LogHistogram {
    const sketch = new LogHistogram();
    for (let i = 0; i < n; i++) sketch.record(this.samples[i]);
    this.samples = [];
    this.sketch = sketch;
    return sketch;
  }
}
