/**
 * The sealed-bucket codec: every record reads back to what the Distribution
 * held (count, sum, min and max bit for bit, the values or the 1 % bins),
 * for random buckets made of random parts and for awkward values.
 */
import t from 'tap';
import { Distribution, SAMPLES_MAX, type DistributionData } from '../../src/analytics/distribution';
import { maxRecordBytes, readRecord, writeRecord } from '../../src/analytics/sketch-codec';
import { random } from '../helpers/streams';

function roundTrip(d: DistributionData): { back: DistributionData; bytes: number } {
  const buffer = new Uint8Array(maxRecordBytes(d) + 3);
  const end = writeRecord(d, buffer, 3); // not at 0: records sit end to end
  return { back: readRecord(buffer, 3), bytes: end - 3 };
}

/** What a record must give back: the values in the order quantile() sorts them (their order is not an answer), the rest as is. */
function expected(d: DistributionData): DistributionData {
  if (d.sketch) return { ...d, sketch: { ...d.sketch, sum: d.sum } };
  return { ...d, samples: Array.from(Float64Array.from(d.samples!).sort()) };
}

/** Same numbers, -0 and NaN included (t.same would take -0 for 0). */
function identical(a: DistributionData, b: DistributionData): boolean {
  const same = (x: number, y: number): boolean => Object.is(x, y);
  const arrays = (x: ArrayLike<number> | undefined, y: ArrayLike<number> | undefined): boolean =>
    x === y || (x !== undefined && y !== undefined && x.length === y.length && Array.from(x).every((v, i) => same(v, y[i])));
  if (!same(a.count, b.count) || !same(a.sum, b.sum) || !same(a.min, b.min) || !same(a.max, b.max) || !arrays(a.samples, b.samples)) return false;
  if (!a.sketch || !b.sketch) return a.sketch === b.sketch;
  const [x, y] = [a.sketch, b.sketch];
  return same(x.offset, y.offset) && same(x.zeroCount, y.zeroCount) && same(x.count, y.count) && same(x.sum, y.sum) && same(x.min, y.min) && same(x.max, y.max) && arrays(x.counts, y.counts);
}

t.test('property: random buckets, made of random parts, read back exactly', async (t) => {
  const rnd = random(13);
  const kinds = [
    () => Math.round(1e3 * Math.pow(1e7, rnd())) / 1e9, // whole nanoseconds, 1 µs .. 10 s
    () => Math.floor(1e6 * rnd()), // whole numbers (sizes)
    () => 1e-4 * Math.pow(1e5, rnd()), // any double
  ];
  const rounds = 600;
  let good = 0;
  let sketches = 0;
  for (let round = 0; round < rounds; round++) {
    const value = kinds[round % kinds.length];
    const n = 1 + Math.floor(rnd() * 3 * SAMPLES_MAX);
    const d = new Distribution();
    let part = new Distribution();
    for (let i = 0; i < n; i++) {
      part.record(rnd() < 0.05 ? 0 : value());
      if (rnd() < 0.2 || i === n - 1) {
        d.merge(part.toData()); // sums added part by part: not the ascending sum of the values
        part = new Distribution();
      }
    }
    const data = d.toData();
    if (data.sketch) sketches++;
    const { back } = roundTrip(data);
    const again = new Distribution();
    again.merge(back);
    const answers = (x: Distribution): number[] => [x.count, x.sum, x.min, x.max, ...[0.5, 0.9, 0.95, 0.99].map((q) => x.quantile(q))];
    if (identical(back, expected(data)) && answers(again).every((v, i) => Object.is(v, answers(d)[i]))) good++;
  }
  t.equal(good, rounds, 'every record gives back the bucket, and the same answers');
  t.ok(sketches > rounds / 4 && sketches < rounds, `both forms covered (${sketches} sketches)`);
});

t.test('a few whole nanoseconds: gaps in order, each its bit length and the bits below its leading one; the sum as its distance from the ascending sum', async (t) => {
  const d = new Distribution();
  d.record(0.002);
  d.record(0.001);
  const buffer = new Uint8Array(maxRecordBytes(d.toData()));
  const end = writeRecord(d.toData(), buffer, 0);
  // header: nanoseconds (1 << 1); count 2; then bits: 1 000 000 ns from 0 is 20 bits long (010100 in 6 bits),
  // its 19 bits below the leading one (1110100001000000000); the next gap, as long: change 0 (Rice, k = 1: 00), the
  // same 19 bits; zeros to the byte. Last, the sum: 0 ulps from 0.001 + 0.002.
  t.same([...buffer.subarray(0, end)], [2, 2, 0x53, 0xa1, 0x20, 0x1d, 0x09, 0x00, 0]);
});

t.test('edge values: zero, -0, huge, past 2^53, NaN, only zeros, one value, none', async (t) => {
  const cases: [string, number[]][] = [
    ['zero', [0, 0, 0.5]],
    ['-0', [-0, 0, 1]],
    ['huge', [Number.MAX_VALUE, 1e300, 5e-324]],
    ['whole past 2^53', [2 ** 60, 2 ** 53 + 2, 1]],
    ['negative', [-1.5, -2, 3]],
    ['NaN', [NaN, 1, 2]],
    ['one value', [0.123456789]],
  ];
  for (const [name, values] of cases) {
    for (const copies of [1, Math.ceil((SAMPLES_MAX + 1) / values.length)]) {
      const d = new Distribution();
      for (let i = 0; i < copies; i++) values.forEach((v) => d.record(v));
      const data = d.toData();
      t.ok(identical(roundTrip(data).back, expected(data)), `${name}, ${data.sketch ? 'sketch' : 'values'}`);
    }
  }
  const zeros = new Distribution();
  for (let i = 0; i <= SAMPLES_MAX; i++) zeros.record(0);
  const { back } = roundTrip(zeros.toData());
  t.same([back.count, back.sketch?.zeroCount, back.sketch?.counts.length], [SAMPLES_MAX + 1, SAMPLES_MAX + 1, 0], 'only zeros: no bins');
  const empty = new Distribution().toData();
  t.ok(identical(roundTrip(empty).back, empty), 'empty (a bucket that took an empty cell still answers, with a count of 0)');
  t.throws(() => writeRecord({ count: 2, sum: 1, min: 1, max: 1, samples: [1] }, new Uint8Array(64), 0), { message: 'sketch-codec: 2 values counted, 1 kept' });
});

t.test('record sizes: some 3 bytes per whole-nanosecond value, about a byte per 1 % bin', async (t) => {
  const rnd = random(3);
  const bucket = (n: number): DistributionData => {
    const d = new Distribution();
    for (let i = 0; i < n; i++) d.record(Math.round(1e6 * Math.pow(10, 3 * rnd())) / 1e9);
    return d.toData();
  };
  const ten = roundTrip(bucket(10)).bytes;
  t.ok(ten <= 38, `10 values, 1 ms .. 1 s: ${ten} bytes (a Distribution with them: some 250)`);
  const hour = bucket(3600);
  const { bytes } = roundTrip(hour);
  t.ok(bytes <= 40 + 1.1 * hour.sketch!.counts.length, `3600 values: ${bytes} bytes for ${hour.sketch!.counts.length} bins`);
});
