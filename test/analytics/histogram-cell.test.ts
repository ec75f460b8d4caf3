/**
 * HistogramCell against the plain definitions it replaces on the hot path:
 * the boundary index of a linear search, and the data of a Distribution that
 * recorded every value, across publications and past SAMPLES_MAX.
 */
import t from 'tap';
import { HistogramCell } from '../../src/analytics/cells';
import { Distribution, SAMPLES_MAX } from '../../src/analytics/distribution';
import { DEFAULT_DURATION_BUCKETS_SECONDS } from '../../src/analytics/families';

const linear = (b: readonly number[], v: number): number => {
  let i = 0;
  while (i < b.length && v > b[i]) i++;
  return i;
};

t.test('counts per boundary: the linear search, for every kind of value', async (t) => {
  const layouts: number[][] = [[...DEFAULT_DURATION_BUCKETS_SECONDS], [100, 1000, 10_000, 100_000, 1e6], [-5, -1, 0, 1e-300, 2, 2.5, 3], [1]];
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const b of layouts) {
    const values = [0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, ...b, ...b.map((x) => x * (1 + 2 ** -52)), ...b.map((x) => x * (1 - 2 ** -53))];
    for (let i = 0; i < 5000; i++) values.push((rnd() < 0.1 ? -1 : 1) * Math.pow(10, rnd() * 16 - 8));
    const cell = new HistogramCell(b);
    const want = new Array(b.length + 1).fill(0);
    for (const v of values) {
      cell.observe(v);
      want[linear(b, v)]++;
    }
    t.same(cell.boundCounts(), want, `bounds ${b.slice(0, 3).join(', ')}…`);
  }
});

t.test("the values: a Distribution's data, publication after publication", async (t) => {
  const cell = new HistogramCell([...DEFAULT_DURATION_BUCKETS_SECONDS]);
  let x = 0.0001;
  for (const n of [1, 7, 9, SAMPLES_MAX - 1, SAMPLES_MAX, SAMPLES_MAX + 1, 300, 3, 0, 64]) {
    const d = new Distribution();
    for (let i = 0; i < n; i++) {
      x = (x * 1.37) % 3.3;
      cell.observe(x);
      d.record(x);
    }
    t.equal(cell.count, n);
    if (n > 0) t.same(cell.toData(), d.toData(), `${n} values`);
    cell.reset();
  }
});
