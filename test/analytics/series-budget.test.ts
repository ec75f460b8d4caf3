import t from 'tap';
import { SeriesBudget } from '../../src/analytics/series-budget';

t.test('known series pass; new ones past the per-service cap fold into the service overflow', async (t) => {
  const b = new SeriesBudget({ perService: 3, global: 100 });
  t.same(['/a', '/b', '/c'].map((k) => b.admit('api:80', k)), ['admitted', 'admitted', 'admitted']);
  t.equal(b.admit('api:80', '/d'), 'service');
  t.equal(b.admit('api:80', '/a'), 'admitted', 'admitted series stay admitted');
  t.equal(b.admit('web:8080', '/d'), 'admitted', 'another service has its own budget');
  t.same(b.stats(), { series: 4, folded: { 'api:80': 1 }, foldedTotal: 1 });
});

t.test('the global cap folds into the global overflow', async (t) => {
  const b = new SeriesBudget({ perService: 10, global: 2 });
  t.equal(b.admit('a', '1'), 'admitted');
  t.equal(b.admit('b', '1'), 'admitted');
  t.equal(b.admit('c', '1'), 'global');
  t.same(b.stats(), { series: 2, folded: { c: 1 }, foldedTotal: 1 });
});

t.test('100 000 distinct paths: series stay bounded, every fold counted, memory bounded', async (t) => {
  const b = new SeriesBudget({ perService: 300, global: 2000 });
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const service = `svc${i % 5}:80`;
    const key = `/items/${i}/detail`;
    seen.add(b.admit(service, key) === 'admitted' ? key : `${service} overflow`);
  }
  const stats = b.stats();
  t.equal(stats.series, 5 * 300);
  t.equal(stats.foldedTotal, 100_000 - 5 * 300);
  t.equal(seen.size, 5 * 300 + 5, 'admitted keys plus one overflow per service');
  t.same(Object.values(stats.folded), [19_700, 19_700, 19_700, 19_700, 19_700]);
  t.ok(process.memoryUsage().heapUsed - before < 50 * 2 ** 20, 'well under 50 MiB of heap');
});

t.test('released series free their budget', async (t) => {
  const b = new SeriesBudget({ perService: 1, global: 10 });
  b.admit('s', 'x');
  t.equal(b.admit('s', 'y'), 'service');
  b.release('s', 'x');
  t.equal(b.admit('s', 'y'), 'admitted');
  t.equal(b.stats().series, 1);
});

t.test('limits are validated', async (t) => {
  t.throws(() => new SeriesBudget({ perService: 0, global: 10 }), { message: 'series budget perService: 0 must be a positive integer' });
  t.throws(() => new SeriesBudget({ perService: 5, global: 1.5 }), { message: 'series budget global: 1.5 must be a positive integer' });
});
