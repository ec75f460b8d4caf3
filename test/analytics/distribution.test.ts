import t from 'tap';
import { Distribution, SAMPLES_MAX } from '../../src/analytics/distribution';
import { random } from '../helpers/streams';

const exact = (values: number[], q: number): number => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))];

t.test('few values: kept as they are, exact quantiles', async (t) => {
  const d = new Distribution();
  [5, 1, 4, 2, 3].forEach((v) => d.record(v));
  t.same([d.count, d.sum, d.min, d.max, d.mean], [5, 15, 1, 5, 3]);
  t.same([0, 0.25, 0.5, 0.9, 1].map((q) => d.quantile(q)), [1, 2, 3, 4, 5]);
  t.ok(d.toData().samples && !d.toData().sketch, 'published as samples');
  t.ok(Number.isNaN(new Distribution().quantile(0.5)), 'empty: NaN');
});

t.test('property: any split, merged in any order, equals the whole; quantiles exact or within 1 %', async (t) => {
  const rnd = random(9);
  let good = 0;
  const rounds = 300;
  for (let round = 0; round < rounds; round++) {
    const n = 1 + Math.floor(rnd() * 3 * SAMPLES_MAX);
    const values = Array.from({ length: n }, () => 1e-4 * Math.pow(1e5, rnd()));
    const whole = new Distribution();
    values.forEach((v) => whole.record(v));
    const parts: Distribution[] = [];
    for (const v of values) {
      if (parts.length === 0 || rnd() < 0.2) parts.push(new Distribution());
      parts[parts.length - 1].record(v);
    }
    const merged = new Distribution();
    for (const p of rnd() < 0.5 ? parts : parts.reverse()) merged.merge(rnd() < 0.5 ? p : p.toData());
    let ok = merged.count === whole.count && merged.min === whole.min && merged.max === whole.max && Math.abs(merged.sum - whole.sum) <= 1e-9 * whole.sum;
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const got = merged.quantile(q);
      ok &&= got === whole.quantile(q);
      const want = exact(values, q);
      ok &&= n <= SAMPLES_MAX ? got === want : Math.abs(got - want) <= 0.01 * want;
    }
    if (ok) good++;
  }
  t.equal(good, rounds);
});

t.test('clear empties it for reuse', async (t) => {
  const d = new Distribution();
  for (let i = 0; i < 200; i++) d.record(i + 1);
  d.clear();
  d.record(7);
  t.same([d.count, d.sum, d.quantile(0.5)], [1, 7, 7]);
  t.ok(d.toData().samples, 'back to samples');
});
