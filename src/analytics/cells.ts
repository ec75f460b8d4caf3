/**
 * The aggregates one series holds for one time bucket in a shard, and the plain-data form
 * in which shards hand them to the store (structured-clone friendly, no class
 * instances). Counters add and histograms merge exactly, so it does not matter
 * which shard or which flush an observation travelled in.
 */
import { Distribution, SAMPLES_MAX, type DistributionData } from './distribution';

export class CounterCell {
  value = 0;
}

/**
 * A histogram for one bucket of one publication: the values, and counts per
 * fixed boundary. Up to SAMPLES_MAX values sit in a typed array the cell keeps
 * from one publication to the next (no allocation per value); past that they
 * go to a Distribution, fed the same values in the same order, so toData()
 * is exactly what a Distribution that recorded every value would give.
 *
 *   observe(v) --> samples[count] (≤ SAMPLES_MAX) | Distribution (past it)
 *              `-> counts[boundIndex(v)]  (a table by the value's float exponent, then ≤ a few compares)
 */
export class HistogramCell {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** Non-cumulative counts per fixed boundary (last: above every boundary). */
  readonly bounds: Float64Array;
  private readonly boundaries: readonly number[];
  private readonly starts: Uint8Array | undefined;
  /** The values of this publication while they are few; capacity grows to SAMPLES_MAX. */
  private samples = new Float64Array(8);
  private many: Distribution | undefined;

  constructor(boundaries: readonly number[]) {
    this.boundaries = boundaries;
    this.bounds = new Float64Array(boundaries.length + 1);
    this.starts = startsFor(boundaries);
  }

  observe(value: number): void {
    const k = this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (k < SAMPLES_MAX) {
      if (k === this.samples.length) this.grow();
      this.samples[k] = value;
    } else {
      if (k === SAMPLES_MAX) this.toMany();
      this.many!.record(value);
    }
    const b = this.boundaries;
    let i = 0;
    const starts = this.starts;
    if (starts !== undefined) {
      F64[0] = value;
      i = starts[U32[HI] >>> 20];
    }
    while (i < b.length && value > b[i]) i++;
    this.bounds[i]++;
  }

  /** Observes values[0, count): one call per group, so no value is boxed on its way in. */
  observeAll(values: Float64Array, count: number): void {
    for (let i = 0; i < count; i++) this.observe(values[i]);
  }

  /** The values as plain data: what Distribution.toData() gives for them. The receiver owns it. */
  toData(): DistributionData {
    if (this.many) return this.many.toData();
    const { count, sum, min, max } = this;
    const samples: number[] = new Array(count);
    for (let i = 0; i < count; i++) samples[i] = this.samples[i];
    return { count, sum, min, max, samples };
  }

  /** The counts per boundary as a plain array (the receiver owns it). */
  boundCounts(): number[] {
    const b = this.bounds;
    const out: number[] = new Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b[i];
    return out;
  }

  /** Back to empty, for the next publication (the sample space is kept). */
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.many = undefined;
    this.bounds.fill(0);
  }

  private grow(): void {
    const next = new Float64Array(Math.min(this.samples.length * 2, SAMPLES_MAX));
    next.set(this.samples);
    this.samples = next;
  }

  /** Past SAMPLES_MAX values: a Distribution, given the kept ones first (as it would have recorded them). */
  private toMany(): void {
    const d = new Distribution();
    for (let i = 0; i < SAMPLES_MAX; i++) d.record(this.samples[i]);
    this.many = d;
  }
}

/** A value's sign and exponent bits: F64[0] = v, then U32[HI] >>> 20. */
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // little-endian: the high word is the second

/**
 * Per sign-and-exponent (4096 of them), how many boundaries lie below every
 * value with those bits: the search starts there, and the compares it skips
 * would all have been true, so the index is the one the linear search finds.
 * NaN and ±Infinity start at 0 (the plain search). Shared by every cell of a
 * family (cells are made with the family's boundaries array).
 */
const startsByBoundaries = new WeakMap<readonly number[], Uint8Array>();
function startsFor(boundaries: readonly number[]): Uint8Array | undefined {
  if (boundaries.length === 0 || boundaries.length > 255) return undefined;
  let starts = startsByBoundaries.get(boundaries);
  if (starts) return starts;
  starts = new Uint8Array(4096);
  for (let key = 0; key < 4096; key++) {
    const negative = key >= 2048;
    const e = key & 0x7ff;
    if (e === 0x7ff) continue; // NaN, ±Infinity
    // The lowest value these bits can hold (negative: the magnitude's upper end, excluded, is below every one).
    const lowest = negative ? -Math.pow(2, e - 1022) : e === 0 ? 0 : Math.pow(2, e - 1023);
    let n = 0;
    while (n < boundaries.length && boundaries[n] < lowest) n++; // a prefix: each one skipped is below the value
    starts[key] = n;
  }
  startsByBoundaries.set(boundaries, starts);
  return starts;
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
