/**
 * A sealed histogram bucket as bytes: what a Distribution (distribution.ts)
 * holds, written compactly and read back to the same answers (the same
 * count, sum, min and max bit for bit, the same values or the same 1 %
 * bins). Used by the store for buckets whose time has passed.
 *
 *   record = header byte, then
 *     values kept (≤ SAMPLES_MAX):  varint count, the values in ascending order as bits
 *                                   (the gaps between them, the first from 0: each its
 *                                   bit length, the first in 6 bits, the next ones as the
 *                                   change from the last, zigzag Rice-coded with k = 1; then
 *                                   the bits below its leading one; zeros to the byte), sum
 *     sketch:                       varint count, varint zeros, min, max, sum (8 bytes),
 *                                   zigzag varint first bin, varint bins, the bin counts
 *                                   (varints; a 0 is followed by the varint length of the zero run - 1)
 *   header: bit 0 sketch; bits 1-2 how values (sketch: min) are written, bits 3-4 how the
 *           sketch's max is written; bit 5 the sum as 8 bytes (else: its distance in units in
 *           the last place from the ascending sum of the values, zigzag varint); bit 6 (kept
 *           values whose min or max is not the first or last in order: -0, NaN) both after the sum.
 *   a value is written as a varint when it is a whole number (response sizes) or whole
 *   nanoseconds in seconds (durations, as shards make them: ns / 1e9) that divide back to
 *   the same double; else as its 8 bytes.
 *
 * The order of kept values is not kept: every answer reads them sorted, and
 * a merge that turns them into a sketch gives the same bins in any order. A
 * sketch's own sum (never reported) comes back as the bucket's sum.
 *
 * Bins stay byte varints: Rice-coding them would take a third less room
 * (0.7 byte a bin, not 1.1) but reads some 4 times slower, and a 24 h
 * window reads every hour's sketch of every series.
 */
import type { DistributionData } from './distribution';

const SKETCH = 1;
const SUM_RAW = 1 << 5;
/** Kept values whose min or max is not the first or last in ascending order (-0, NaN): both as 8 bytes after the sum. */
const EXTREMES_RAW = 1 << 6;
/** How a value is written: a varint of value * scale, or 8 raw bytes. */
const WHOLE = 0;
const NANOS = 1;
const RAW = 2;
const SCALES = [1, 1e9];

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const U8 = new Uint8Array(F64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // little-endian: the high word is the second
const LO = 1 - HI;
const TWO_32 = 2 ** 32;
const NO_BYTES = new Uint8Array(0);
const POW2 = Array.from({ length: 54 }, (_, i) => 2 ** i);
/** A Rice quotient this large is written as ones and 32 plain bits instead (it cannot happen for k = 1 and 53-bit lengths, but keeps the code whole). */
const RICE_ESCAPE = 24;
/** The Rice parameter for changes in a gap's bit length. */
const LENGTH_K = 1;

/** Bits in a whole number (< 2^53): 0 for 0. */
function bitLength(v: number): number {
  if (v === 0) return 0;
  let l = Math.floor(Math.log2(v)) + 1;
  if (POW2[l - 1] > v) l--; // log2 rounded up to the next power of two
  else if (POW2[l] <= v) l++;
  return l;
}

/** value * scale when it is a whole number (≥ 0, ≤ 2^53) that divides back to the same double; else -1. */
function scaled(value: number, scale: number): number {
  const n = Math.round(value * scale);
  return n >= 0 && n <= Number.MAX_SAFE_INTEGER && n / scale === value && !Object.is(value, -0) ? n : -1;
}

/** The coding that writes every one of the values as a varint, or RAW. */
function codingOf(values: ArrayLike<number>): number {
  for (let c = WHOLE; c <= NANOS; c++) {
    let all = true;
    for (let i = 0; i < values.length && all; i++) all = scaled(values[i], SCALES[c]) >= 0;
    if (all) return c;
  }
  return RAW;
}

/** The bytes a record for `d` can take at most (what a writer must have room for). */
export function maxRecordBytes(d: DistributionData): number {
  return d.sketch ? 64 + 8 * d.sketch.counts.length : 48 + 16 * (d.samples?.length ?? 0);
}

/** Writes into a buffer with room enough (maxRecordBytes). */
class Writer {
  bytes: Uint8Array = NO_BYTES;
  pos = 0;

  byte(b: number): void {
    this.bytes[this.pos++] = b;
  }

  varint(v: number): void {
    while (v >= 0x80) {
      this.bytes[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.bytes[this.pos++] = v;
  }

  f64(v: number): void {
    F64[0] = v;
    for (let i = 0; i < 8; i++) this.bytes[this.pos++] = U8[i];
  }

  value(v: number, coding: number): void {
    if (coding === RAW) this.f64(v);
    else this.varint(scaled(v, SCALES[coding]));
  }

  /** Bits not yet a whole byte, and how many. */
  private acc = 0;
  private nbits = 0;

  /** The `width` (≤ 16) low bits of v, most significant first. */
  bits(v: number, width: number): void {
    this.acc = this.acc * POW2[width] + v;
    this.nbits += width;
    while (this.nbits >= 8) {
      this.nbits -= 8;
      const b = Math.floor(this.acc / POW2[this.nbits]);
      this.bytes[this.pos++] = b;
      this.acc -= b * POW2[this.nbits];
    }
  }

  /** The `width` (≤ 53) low bits of a whole number v. */
  long(v: number, width: number): void {
    while (width > 16) {
      width -= 16;
      this.bits(Math.floor(v / POW2[width]) % 0x10000, 16);
    }
    this.bits(v % POW2[width], width);
  }

  /** Rice code: v >> k in unary (ones, then a zero), then the k low bits; a quotient of RICE_ESCAPE or more escapes to 32 plain bits. */
  rice(v: number, k: number): void {
    const q = Math.floor(v / POW2[k]);
    if (q >= RICE_ESCAPE) {
      for (let i = 0; i < RICE_ESCAPE; i++) this.bits(1, 1);
      this.long(v, 32);
      return;
    }
    for (let i = 0; i < q; i++) this.bits(1, 1);
    this.bits(0, 1);
    this.long(v % POW2[k], k);
  }

  /** Pads the last byte with zeros. */
  endBits(): void {
    if (this.nbits > 0) this.bits(0, 8 - this.nbits);
  }
}

class Reader {
  bytes: Uint8Array = NO_BYTES;
  pos = 0;

  byte(): number {
    return this.bytes[this.pos++];
  }

  varint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.bytes[this.pos++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
  }

  f64(): number {
    for (let i = 0; i < 8; i++) U8[i] = this.bytes[this.pos++];
    return F64[0];
  }

  value(coding: number): number {
    return coding === RAW ? this.f64() : this.varint() / SCALES[coding];
  }
}

const writer = new Writer();
const reader = new Reader();

const zigzag = (v: number): number => (v < 0 ? -2 * v - 1 : 2 * v);
const unzigzag = (v: number): number => (v % 2 === 1 ? -(v + 1) / 2 : v / 2);

/** `to`'s distance from `from` in units in the last place, when both are finite, of one sign and within 2^31; else undefined. */
function ulpsBetween(from: number, to: number): number | undefined {
  F64[0] = from;
  const fh = U32[HI];
  const fl = U32[LO];
  F64[0] = to;
  const th = U32[HI];
  const tl = U32[LO];
  if (!Number.isFinite(from) || !Number.isFinite(to) || fh >>> 31 !== th >>> 31 || Math.abs(th - fh) > 1) return undefined;
  const d = (th - fh) * TWO_32 + (tl - fl);
  return Math.abs(d) < 2 ** 31 && Object.is(stepUlps(from, d), to) ? d : undefined;
}

/** The double `d` units in the last place from `from` (the bit pattern moved by d). */
function stepUlps(from: number, d: number): number {
  F64[0] = from;
  let lo = U32[LO] + d;
  const carry = Math.floor(lo / TWO_32);
  lo -= carry * TWO_32;
  U32[HI] += carry;
  U32[LO] = lo;
  return F64[0];
}

/** The sum Distribution would make of the values, added in ascending order. */
function ascendingSum(sorted: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return sum;
}

/** Writes the record for a distribution (an empty one too: a bucket that took an empty cell) at bytes[pos], which has maxRecordBytes(d) of room; returns the end. */
export function writeRecord(d: DistributionData, bytes: Uint8Array, pos: number): number {
  const w = writer;
  w.bytes = bytes;
  w.pos = pos;
  if (d.sketch) {
    const { counts, offset, zeroCount } = d.sketch;
    const minCoding = codingOf([d.min]);
    const maxCoding = codingOf([d.max]);
    w.byte(SKETCH | (minCoding << 1) | (maxCoding << 3) | SUM_RAW);
    w.varint(d.count);
    w.varint(zeroCount);
    w.value(d.min, minCoding);
    w.value(d.max, maxCoding);
    w.f64(d.sum);
    if (zeroCount < d.count) {
      w.varint(zigzag(offset));
      w.varint(counts.length);
      for (let k = 0; k < counts.length; k++) {
        const c = counts[k];
        w.varint(c);
        if (c !== 0) continue;
        let run = 1;
        while (k + run < counts.length && counts[k + run] === 0) run++;
        w.varint(run - 1);
        k += run - 1;
      }
    }
  } else {
    const samples = d.samples;
    if (!samples || samples.length !== d.count) throw new Error(`sketch-codec: ${d.count} values counted, ${samples?.length ?? 0} kept`);
    const sorted = Float64Array.from(samples).sort();
    const coding = codingOf(sorted);
    const ulps = ulpsBetween(ascendingSum(sorted), d.sum);
    const extremesRaw = !Object.is(sorted[0], d.min) || !Object.is(sorted[sorted.length - 1], d.max);
    w.byte((coding << 1) | (ulps === undefined ? SUM_RAW : 0) | (extremesRaw ? EXTREMES_RAW : 0));
    w.varint(d.count);
    if (coding === RAW) for (let i = 0; i < sorted.length; i++) w.f64(sorted[i]);
    else {
      // Gaps between the values in order (the first from 0): each its bit length, as a change
      // from the last one's, then the bits below its leading one.
      const scale = SCALES[coding];
      let previous = 0;
      let length = -1;
      for (let i = 0; i < sorted.length; i++) {
        const n = scaled(sorted[i], scale);
        const gap = n - previous;
        const l = bitLength(gap);
        if (length < 0) w.bits(l, 6);
        else w.rice(zigzag(l - length), LENGTH_K);
        if (l > 1) w.long(gap - POW2[l - 1], l - 1);
        previous = n;
        length = l;
      }
      w.endBits();
    }
    if (ulps === undefined) w.f64(d.sum);
    else w.varint(zigzag(ulps));
    if (extremesRaw) {
      w.f64(d.min);
      w.f64(d.max);
    }
  }
  const end = w.pos;
  w.bytes = NO_BYTES; // not keeping a buffer the arena may replace
  return end;
}

/** A decoded record's parts, in buffers reused from one read to the next (see readRecord). */
export class RecordView implements DistributionData {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  samples: number[] | undefined;
  sketch: { offset: number; counts: Uint32Array; zeroCount: number; count: number; sum: number; min: number; max: number } | undefined;
  private readonly values: number[] = [];
  private bins = new Uint32Array(64);

  /** Reads the record at bytes[pos]; valid until the next read into this view. Returns the record's end. */
  read(bytes: Uint8Array, pos: number): number {
    const r = reader;
    r.bytes = bytes;
    r.pos = pos;
    const header = r.byte();
    this.count = r.varint();
    if (header & SKETCH) {
      const zeroCount = r.varint();
      this.min = r.value((header >> 1) & 3);
      this.max = r.value((header >> 3) & 3);
      this.sum = r.f64();
      let offset = 0;
      let counts = this.bins.subarray(0, 0);
      if (zeroCount < this.count) {
        offset = unzigzag(r.varint());
        const n = r.varint();
        if (n > this.bins.length) this.bins = new Uint32Array(Math.max(n, this.bins.length * 2));
        counts = this.bins.subarray(0, n);
        for (let k = 0; k < n; k++) {
          const c = r.varint();
          counts[k] = c;
          if (c !== 0) continue;
          const more = r.varint();
          counts.fill(0, k + 1, k + 1 + more);
          k += more;
        }
      }
      this.samples = undefined;
      this.sketch = { offset, counts, zeroCount, count: this.count, sum: this.sum, min: this.min, max: this.max };
    } else {
      const coding = (header >> 1) & 3;
      const values = this.values;
      values.length = this.count;
      if (coding === RAW) for (let i = 0; i < this.count; i++) values[i] = r.f64();
      else {
        r.pos = readGaps(bytes, r.pos, this.count, SCALES[coding], values);
      }
      this.min = values[0];
      this.max = values[this.count - 1];
      this.sum = header & SUM_RAW ? r.f64() : stepUlps(ascendingSum(values), unzigzag(r.varint()));
      if (header & EXTREMES_RAW) {
        this.min = r.f64();
        this.max = r.f64();
      }
      this.samples = values;
      this.sketch = undefined;
    }
    const end = r.pos;
    r.bytes = NO_BYTES;
    return end;
  }
}

/**
 * Reads `count` values written as gaps (writeRecord) from bytes[pos]: the
 * bit reader's loop with its state in locals (some times faster than in
 * fields). Returns where the bytes after the bits start.
 */
function readGaps(bytes: Uint8Array, pos: number, count: number, scale: number, out: number[]): number {
  let word = 0; // bits read ahead, at the top of 32 (the rest zeros)
  let nbits = 0;
  let n = 0;
  let length = -1;
  for (let i = 0; i < count; i++) {
    if (nbits <= 24) {
      while (nbits <= 24) {
        word |= (pos < bytes.length ? bytes[pos] : 0) << (24 - nbits);
        pos++;
        nbits += 8;
      }
    }
    if (length < 0) {
      length = word >>> 26;
      word <<= 6;
      nbits -= 6;
    } else {
      // The change in bit length: Rice, k = 1 (ones, a zero, a bit; RICE_ESCAPE ones: 32 plain bits).
      let q = 0;
      let z = -1;
      while (z < 0) {
        if (nbits === 0) {
          word = (pos < bytes.length ? bytes[pos] : 0) << 24;
          pos++;
          nbits = 8;
        }
        const ones = Math.min(Math.clz32(~word), nbits, RICE_ESCAPE - q);
        q += ones;
        word = ones === 32 ? 0 : word << ones;
        nbits -= ones;
        if (q === RICE_ESCAPE) {
          z = 0;
          for (let piece = 0; piece < 4; piece++) {
            if (nbits < 8) {
              while (nbits <= 24) {
                word |= (pos < bytes.length ? bytes[pos] : 0) << (24 - nbits);
                pos++;
                nbits += 8;
              }
            }
            z = z * 256 + (word >>> 24);
            word <<= 8;
            nbits -= 8;
          }
        } else if (nbits > 0) {
          // The zero that ends the ones, then the low bit.
          if (nbits < 2) {
            while (nbits <= 24) {
              word |= (pos < bytes.length ? bytes[pos] : 0) << (24 - nbits);
              pos++;
              nbits += 8;
            }
          }
          z = q * 2 + ((word >>> 30) & 1);
          word <<= 2;
          nbits -= 2;
        }
      }
      length += unzigzag(z);
    }
    // The bits below the leading one: up to 52, in pieces of up to 24.
    let rest = length - 1;
    let mantissa = 0;
    while (rest > 0) {
      const take = rest > 24 ? 24 : rest;
      if (nbits < take) {
        while (nbits <= 24) {
          word |= (pos < bytes.length ? bytes[pos] : 0) << (24 - nbits);
          pos++;
          nbits += 8;
        }
      }
      mantissa = mantissa * POW2[take] + (word >>> (32 - take));
      word = take === 32 ? 0 : word << take;
      nbits -= take;
      rest -= take;
    }
    n += length > 1 ? POW2[length - 1] + mantissa : length;
    out[i] = n / scale;
  }
  return pos - (nbits >> 3);
}

/** The distribution a record holds, as data the caller owns. */
export function readRecord(bytes: Uint8Array, pos: number): DistributionData {
  const view = new RecordView();
  view.read(bytes, pos);
  const { count, sum, min, max, samples, sketch } = view;
  return sketch ? { count, sum, min, max, sketch: { ...sketch, counts: sketch.counts.slice() } } : { count, sum, min, max, samples: samples!.slice() };
}
