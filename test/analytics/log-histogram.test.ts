import t from 'tap';
import { LogHistogram, RELATIVE_ACCURACY } from '../../src/analytics/log-histogram';

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Latency-like values: log-normal around a few ms, with a long tail. */
function latencies(seed: number, n: number): number[] {
  const r = random(seed);
  return Array.from({ length: n }, () => Math.exp(-6 + 2 * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())));
}

const exactAt = (sorted: number[], q: number): number => sorted[Math.floor(q * (sorted.length - 1))];
const QUANTILES = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

t.test('quantiles within 1 % of the brute-force value at the same rank, on random streams', async (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const values = latencies(seed, 1 + Math.floor(random(seed * 7)() * 20000));
    const h = new LogHistogram();
    values.forEach((v) => h.record(v));
    const sorted = [...values].sort((a, b) => a - b);
    let worst = 0;
    for (const q of QUANTILES) worst = Math.max(worst, Math.abs(h.quantile(q) - exactAt(sorted, q)) / exactAt(sorted, q));
    t.ok(worst <= RELATIVE_ACCURACY, `seed ${seed}, ${values.length} values: worst relative error ${worst.toFixed(5)}`);
    t.equal(h.count, values.length);
    t.equal(h.min, sorted[0]);
    t.equal(h.max, sorted[sorted.length - 1]);
    t.ok(Math.abs(h.sum - values.reduce((a, b) => a + b, 0)) < 1e-9 * h.sum, 'sum');
  }
});

t.test('merging is exact: any split into parts merges to the same histogram', async (t) => {
  const values = latencies(99, 30000);
  const whole = new LogHistogram();
  values.forEach((v) => whole.record(v));
  for (const parts of [2, 3, 7]) {
    const shards = Array.from({ length: parts }, () => new LogHistogram());
    values.forEach((v, i) => shards[(i * 2654435761) % parts].record(v));
    const merged = new LogHistogram();
    // Through plain data, as shards in worker threads hand them over.
    shards.forEach((s) => merged.merge(s.toData()));
    const a = merged.toData();
    const b = whole.toData();
    t.same({ ...a, sum: 0 }, { ...b, sum: 0 }, `${parts} parts: same buckets, count, min, max`);
    t.ok(Math.abs(a.sum - b.sum) < 1e-9 * b.sum);
    for (const q of QUANTILES) t.equal(merged.quantile(q), whole.quantile(q));
  }
});

t.test('edges: empty, one value, zeros, q = 0 and 1, weights', async (t) => {
  const h = new LogHistogram();
  t.ok(Number.isNaN(h.quantile(0.5)));
  t.ok(Number.isNaN(h.mean));
  h.record(0.25);
  for (const q of [0, 0.5, 1]) t.ok(Math.abs(h.quantile(q) - 0.25) <= 0.25 * RELATIVE_ACCURACY);
  h.record(0, 3);
  t.equal(h.count, 4);
  t.equal(h.quantile(0.5), 0, 'zeros count at rank');
  t.equal(h.quantile(0), 0);
  t.equal(h.quantile(1), 0.25);
  t.equal(h.mean, 0.0625);
  const back = LogHistogram.from(h.toData());
  t.same(back.toData(), h.toData(), 'round trip through plain data');
});

t.test('values far apart grow the buckets both ways', async (t) => {
  const h = new LogHistogram();
  const values = [1, 1e-6, 3600, 0.001, 1e4, 2e-7];
  values.forEach((v) => h.record(v));
  const sorted = [...values].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    const q = i / (sorted.length - 1);
    t.ok(Math.abs(h.quantile(q) - sorted[i]) <= sorted[i] * RELATIVE_ACCURACY, `rank ${i}`);
  }
});
