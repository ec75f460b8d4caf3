/**
 * A compact, lossless byte form for the store's sealed histogram buckets, and
 * one string per series and tier that holds every slot's bytes.
 *
 *   Distribution --encode--> record bytes --(one per slot, length-prefixed)--> tier string
 *   tier string --recordAt/decode--> DistributionData --merge--> a query's Distribution
 *
 * A record is what the bucket's Distribution knows, nothing less:
 *   count ≤ EXACT_MAX:  varint count, then the values (8 bytes each): exact quantiles;
 *   else:               varint count, sum, min, max (8 bytes each), varint zeros, and the
 *                       1 % buckets (log-histogram.ts) as a bit stream: the first index
 *                       (zigzag varint), two Rice parameters (one byte), then per
 *                       non-empty bucket its gap from the previous one and its count
 *                       (Rice codes, each with the parameter that makes it shortest).
 *                       A bucket of a few values costs about a byte a value, a busy one
 *                       about a byte per 1 % bucket: an order of magnitude less than a
 *                       Distribution object, its arrays and their headers.
 * Decoding gives back the same count, sum, min, max and bucket counts, so merges stay exact.
 *
 * The tier string: slot 0's record, then slot 1's, ..., each after its length (varint; 0 =
 * empty). A one-byte string costs 12 bytes of header, a Uint8Array some 200 bytes outside its
 * values, a record per slot would cost a header per slot: one string per tier is the
 * cheapest container that V8 has. It is rebuilt (once per bucket per series) when a record
 * changes; queries only read it.
 */
import type { DistributionData } from './distribution';
import { bucketIndex, MIN_VALUE } from './log-histogram';

/** A sealed bucket keeps up to this many values as they are (quantiles exact); more become 1 % buckets. */
export const EXACT_MAX = 4;

const RICE_ESCAPE = 40;

const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);

/** Bytes being written: a growable scratch area, reused. */
class Writer {
  bytes = Buffer.allocUnsafe(1024);
  length = 0;
  private bits = 0;
  private nbits = 0;

  reset(): void {
    this.length = 0;
    this.bits = 0;
    this.nbits = 0;
  }

  byte(b: number): void {
    if (this.length === this.bytes.length) {
      const grown = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(grown);
      this.bytes = grown;
    }
    this.bytes[this.length++] = b;
  }

  varint(v: number): void {
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  f64(v: number): void {
    F64[0] = v;
    for (let i = 0; i < 8; i++) this.byte(F64_BYTES[i]);
  }

  /** Appends the `n` (≤ 52) low bits of v, most significant first. */
  bitsOf(v: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.bit(Math.floor(v / 2 ** i) % 2);
  }

  bit(b: number): void {
    this.bits = (this.bits << 1) | b;
    if (++this.nbits === 8) {
      this.byte(this.bits);
      this.bits = 0;
      this.nbits = 0;
    }
  }

  /** Rice code with parameter k; a quotient of RICE_ESCAPE or more escapes to Elias gamma, so no value takes more than some 100 bits. */
  rice(v: number, k: number): void {
    const q = Math.floor(v / 2 ** k);
    if (q >= RICE_ESCAPE) {
      for (let i = 0; i < RICE_ESCAPE; i++) this.bit(1);
      this.gamma(v + 1);
      return;
    }
    for (let i = 0; i < q; i++) this.bit(1);
    this.bit(0);
    this.bitsOf(v, k);
  }

  gamma(v: number): void {
    const n = Math.floor(Math.log2(v));
    for (let i = 0; i < n; i++) this.bit(0);
    this.bitsOf(v, n + 1);
  }

  /** Pads the last partial byte with zeros. */
  flushBits(): void {
    while (this.nbits !== 0) this.bit(0);
  }
}

/** Reads bytes from a string of one-byte characters. */
class Reader {
  s = '';
  pos = 0;
  private bits = 0;
  private nbits = 0;

  at(s: string, pos: number): this {
    this.s = s;
    this.pos = pos;
    this.nbits = 0;
    return this;
  }

  byte(): number {
    return this.s.charCodeAt(this.pos++);
  }

  varint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
  }

  f64(): number {
    for (let i = 0; i < 8; i++) F64_BYTES[i] = this.byte();
    return F64[0];
  }

  bit(): number {
    if (this.nbits === 0) {
      this.bits = this.byte();
      this.nbits = 8;
    }
    return (this.bits >>> --this.nbits) & 1;
  }

  bitsOf(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  rice(k: number): number {
    let q = 0;
    while (q < RICE_ESCAPE && this.bit() === 1) q++;
    if (q === RICE_ESCAPE) return this.gamma() - 1;
    return q * 2 ** k + this.bitsOf(k);
  }

  gamma(): number {
    let n = 0;
    while (this.bit() === 0) n++;
    return 2 ** n + this.bitsOf(n);
  }
}

const writer = new Writer();
const reader = new Reader();

const zigzag = (v: number): number => (v < 0 ? -2 * v - 1 : 2 * v);
const unzigzag = (v: number): number => (v % 2 === 1 ? -(v + 1) / 2 : v / 2);

/** Bits a Rice code with parameter k takes for v. */
const riceBits = (v: number, k: number): number => Math.min(Math.floor(v / 2 ** k), RICE_ESCAPE + 64) + 1 + k;

/** The Rice parameter (0..15) that codes the n values value(i) in the fewest bits. */
function bestRice(n: number, value: (i: number) => number): number {
  let best = 0;
  let bestBits = Infinity;
  for (let k = 0; k < 16; k++) {
    let bits = 0;
    for (let i = 0; i < n; i++) bits += riceBits(value(i), k);
    if (bits < bestBits) {
      bestBits = bits;
      best = k;
    }
  }
  return best;
}

/** Writes one record (no length prefix) into the writer. */
function encodeRecord(d: DistributionData): void {
  writer.varint(d.count);
  if (d.count === 0) return;
  if (d.count <= EXACT_MAX) {
    if (!d.samples) throw new Error('slot-codec: a sketch of so few values cannot give them back exactly');
    for (const v of d.samples) writer.f64(v);
    return;
  }
  writer.f64(d.sum);
  writer.f64(d.min);
  writer.f64(d.max);
  // The non-empty 1 % buckets, in index order.
  let indexes: number[];
  let counts: number[];
  let zeros: number;
  if (d.sketch) {
    ({ zeroCount: zeros } = d.sketch);
    indexes = [];
    counts = [];
    const c = d.sketch.counts;
    for (let k = 0; k < c.length; k++) {
      if (c[k] !== 0) {
        indexes.push(d.sketch.offset + k);
        counts.push(c[k]);
      }
    }
  } else {
    zeros = 0;
    const byIndex = new Map<number, number>();
    for (const v of d.samples!) {
      if (v <= MIN_VALUE) zeros++;
      else {
        const i = bucketIndex(v);
        byIndex.set(i, (byIndex.get(i) ?? 0) + 1);
      }
    }
    indexes = [...byIndex.keys()].sort((a, b) => a - b);
    counts = indexes.map((i) => byIndex.get(i)!);
  }
  writer.varint(zeros);
  if (indexes.length === 0) return;
  writer.varint(zigzag(indexes[0]));
  // The Rice parameters that make the gaps, and the counts, shortest.
  const gapK = bestRice(indexes.length - 1, (i) => indexes[i + 1] - indexes[i] - 1);
  const countK = bestRice(counts.length, (i) => counts[i] - 1);
  writer.byte(gapK | (countK << 4));
  writer.rice(counts[0] - 1, countK);
  for (let i = 1; i < indexes.length; i++) {
    writer.rice(indexes[i] - indexes[i - 1] - 1, gapK);
    writer.rice(counts[i] - 1, countK);
  }
  writer.flushBits();
}

/** The record's bytes for a distribution, as a one-byte string ('' when empty). */
export function encode(d: DistributionData): string {
  if (d.count === 0) return '';
  writer.reset();
  encodeRecord(d);
  return writer.bytes.toString('latin1', 0, writer.length);
}

/** The distribution a record holds: [pos, end) of `s`. */
export function decode(s: string, pos: number): DistributionData {
  const r = reader.at(s, pos);
  const count = r.varint();
  if (count <= EXACT_MAX) {
    const samples: number[] = new Array(count);
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < count; i++) {
      const v = r.f64();
      samples[i] = v;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    return { count, sum, min, max, samples };
  }
  const sum = r.f64();
  const min = r.f64();
  const max = r.f64();
  const zeroCount = r.varint();
  let left = count - zeroCount;
  if (left === 0) return { count, sum, min, max, sketch: { offset: 0, counts: new Uint32Array(0), zeroCount, count, sum, min, max } };
  const first = unzigzag(r.varint());
  const ks = r.byte();
  const gapK = ks & 15;
  const countK = ks >>> 4;
  const indexes: number[] = [];
  const counts: number[] = [];
  let index = first;
  for (;;) {
    const c = r.rice(countK) + 1;
    indexes.push(index);
    counts.push(c);
    left -= c;
    if (left <= 0) break;
    index += r.rice(gapK) + 1;
  }
  const out = new Uint32Array(index - first + 1);
  for (let i = 0; i < indexes.length; i++) out[indexes[i] - first] = counts[i];
  return { count, sum, min, max, sketch: { offset: first, counts: out, zeroCount, count, sum, min, max } };
}

/** Where each slot's record starts in a tier string (-1: empty), for slots [0, slots). */
export function recordStarts(tier: string, slots: number): Int32Array {
  const starts = new Int32Array(slots).fill(-1);
  const r = reader.at(tier, 0);
  for (let slot = 0; slot < slots && r.pos < tier.length; slot++) {
    const len = r.varint();
    if (len > 0) starts[slot] = r.pos;
    r.pos += len;
  }
  return starts;
}

/** The start of one slot's record in a tier string, or -1 when the slot is empty. */
export function recordAt(tier: string, slot: number): number {
  const r = reader.at(tier, 0);
  for (let i = 0; r.pos < tier.length; i++) {
    const len = r.varint();
    if (i === slot) return len > 0 ? r.pos : -1;
    r.pos += len;
  }
  return -1;
}

/** The tier string with one slot's record replaced (record '' empties it); trailing empty slots are dropped. */
export function withRecord(tier: string, slot: number, record: string): string {
  writer.reset();
  const r = reader.at(tier, 0);
  let lastNonEmpty = 0; // writer length after the last non-empty record
  for (let i = 0; i <= slot || r.pos < tier.length; i++) {
    let len = 0;
    let from = 0;
    if (r.pos < tier.length) {
      len = r.varint();
      from = r.pos;
      r.pos += len;
    }
    if (i === slot) {
      writer.varint(record.length);
      for (let k = 0; k < record.length; k++) writer.byte(record.charCodeAt(k));
      if (record.length > 0) lastNonEmpty = writer.length;
    } else {
      writer.varint(len);
      for (let k = 0; k < len; k++) writer.byte(tier.charCodeAt(from + k));
      if (len > 0) lastNonEmpty = writer.length;
    }
  }
  return lastNonEmpty === 0 ? '' : writer.bytes.toString('latin1', 0, lastNonEmpty);
}
