/**
 * A log-bucketed histogram (the DDSketch idea): bucket i holds values in
 * (γ^(i-1), γ^i] with γ = (1+α)/(1-α), so any quantile it reports is within
 * α = 1 % of the true value at that rank. Count, sum, min and max are exact;
 * merging two histograms is exact (bucket counts add), so shards, time
 * buckets and windows combine without loss.
 *
 * Values are positive numbers in any unit (the engine uses seconds); values
 * at or below MIN_VALUE go to a zero bucket and report as 0.
 */
export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const INV_LN_GAMMA = 1 / Math.log(GAMMA);
export const MIN_VALUE = 1e-9;

/** Plain data for transfer between threads and storage (counts from index `offset` up; a typed array clones as one copy). */
export interface LogHistogramData {
  offset: number;
  counts: Uint32Array;
  zeroCount: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export function bucketIndex(value: number): number {
  return Math.ceil(Math.log(value) * INV_LN_GAMMA);
}

/** The value reported for bucket i: within α of every value the bucket holds. */
export function bucketValue(index: number): number {
  return (2 * Math.pow(GAMMA, index)) / (GAMMA + 1);
}

export class LogHistogram {
  /**
   * counts[k] is the count of bucket offset + k; grows both ways as values
   * arrive. 32 bits per bucket: one 1 % bucket of one time bucket would need
   * four billion values to wrap.
   */
  private counts: Uint32Array = new Uint32Array(0);
  private offset = 0;
  zeroCount = 0;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  record(value: number, times = 1): void {
    this.count += times;
    this.sum += value * times;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value <= MIN_VALUE) {
      this.zeroCount += times;
      return;
    }
    const index = bucketIndex(value);
    this.ensure(index, index);
    this.counts[index - this.offset] += times;
  }

  merge(other: LogHistogram | LogHistogramData): void {
    if (other.count === 0) return;
    // Narrowed apart: a LogHistogram's buckets are private, plain data's are not.
    const { counts, offset } = other instanceof LogHistogram ? { counts: other.counts, offset: other.offset } : other;
    if (counts.length > 0) {
      this.ensure(offset, offset + counts.length - 1);
      const shift = offset - this.offset;
      for (let k = 0; k < counts.length; k++) this.counts[shift + k] += counts[k];
    }
    this.zeroCount += other.zeroCount;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /**
   * The value at rank floor(q * (count - 1)) of the sorted values, within 1 %;
   * the exact min and max at q = 0 and q = 1. NaN when empty.
   */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const rank = Math.floor(q * (this.count - 1));
    if (rank < this.zeroCount) return 0;
    let seen = this.zeroCount;
    for (let k = 0; k < this.counts.length; k++) {
      seen += this.counts[k];
      if (seen > rank) return Math.min(Math.max(bucketValue(this.offset + k), this.min), this.max);
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  toData(): LogHistogramData {
    let first = 0;
    let end = this.counts.length;
    while (first < end && this.counts[first] === 0) first++;
    while (end > first && this.counts[end - 1] === 0) end--;
    return {
      offset: this.offset + first,
      counts: this.counts.slice(first, end),
      zeroCount: this.zeroCount,
      count: this.count,
      sum: this.sum,
      min: this.min,
      max: this.max,
    };
  }

  static from(data: LogHistogramData): LogHistogram {
    const h = new LogHistogram();
    h.merge(data);
    return h;
  }

  /** Makes indexes [low, high] addressable, growing by at least a quarter to amortise. */
  private ensure(low: number, high: number): void {
    if (this.counts.length === 0) {
      this.offset = low;
      this.counts = new Uint32Array(Math.max(16, high - low + 1));
      return;
    }
    const end = this.offset + this.counts.length;
    if (low >= this.offset && high < end) return;
    const slack = Math.ceil(this.counts.length / 4);
    const newOffset = low < this.offset ? low - slack : this.offset;
    const newEnd = high >= end ? high + 1 + slack : end;
    const grown = new Uint32Array(newEnd - newOffset);
    grown.set(this.counts, this.offset - newOffset);
    this.counts = grown;
    this.offset = newOffset;
  }
}
