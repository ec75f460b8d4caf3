import t from 'tap';
import { FAMILIES, type MetricFamily } from '../../src/analytics/families';
import { OVERFLOW as O, SeriesBudget, type Placement } from '../../src/analytics/series-budget';
import { NO_HTTP_IDENTITY } from '../helpers/identity-labels';

/** An HTTP family's labels: the given ones, then the empty identity labels. */
const h = (...labels: string[]): string[] => [...labels, ...NO_HTTP_IDENTITY];

const family = (name: string): MetricFamily => FAMILIES.find((f) => f.name === name)!;
const DURATION = family('http_request_duration_seconds');
const REQUESTS = family('http_requests_total');
const duration = (service: string, route: string, status = '200'): string[] => h(service, 'server', '80', 'GET', route, status, status[0] === '5' ? '5xx' : '');
const where = (p: Placement): [string[], string | undefined] => [p.labels, p.folded];

t.test('a full service folds its route first, then more, and keeps its floor of its own: status classes stay', async (t) => {
  const b = new SeriesBudget({ perService: 10, global: 1000 });
  for (let i = 0; i < 9; i++) t.same(where(b.place(DURATION, duration('api:80', `/r${i}`))), [duration('api:80', `/r${i}`), undefined]);
  // 9 own series: the tenth of the budget is kept for series with a folded route.
  t.same(where(b.place(DURATION, duration('api:80', '/r9'))), [duration('api:80', O), 'route']);
  t.same(where(b.place(DURATION, duration('api:80', '/r10'))), [duration('api:80', O), 'route'], 'the folded series is held: no more budget');
  t.same(where(b.place(DURATION, duration('api:80', '/r11', '500'))), [h('api:80', 'server', O, O, O, '5xx', '5xx'), 'route'], 'no room above the floor: the floor, its status class kept');
  t.same(where(b.place(DURATION, duration('web:80', '/r0', '500'))), [duration('web:80', '/r0', '500'), undefined], 'another service has its own budget');
  t.same(b.stats(), { series: 12, services: 2, folded: { route: 3, service: 0, global: 0 }, foldedTotal: 3 });
});

t.test('past the services cap, new services fold into the OVERFLOW service, with their routes', async (t) => {
  const b = new SeriesBudget({ perService: 100, services: 2, global: 1000 });
  b.place(REQUESTS, h('a', 'server', '80', 'GET', '/x'));
  b.place(REQUESTS, h('b', 'server', '80', 'GET', '/x'));
  t.same(where(b.place(REQUESTS, h('c', 'server', '80', 'GET', '/x'))), [h(O, 'server', '80', 'GET', '/x'), 'service']);
  t.same(where(b.place(REQUESTS, h('a', 'server', '80', 'GET', '/y'))), [h('a', 'server', '80', 'GET', '/y'), undefined], 'services holding series keep their names');
  t.same(b.stats(), { series: 4, services: 2, folded: { route: 0, service: 1, global: 0 }, foldedTotal: 1 });
});

t.test('the global cap keeps a fifth for floors, then folds into the OVERFLOW floor, which always exists', async (t) => {
  const b = new SeriesBudget({ perService: 100, global: 5 });
  for (let i = 0; i < 4; i++) t.equal(b.place(DURATION, duration('a', `/r${i}`)).folded, undefined);
  t.same(where(b.place(DURATION, duration('a', '/r4'))), [h('a', 'server', O, O, O, '2xx', ''), 'route'], 'series above a floor get 4 of 5; the fifth goes to a floor');
  t.same(where(b.place(DURATION, duration('b', '/r0', '503'))), [h(O, 'server', O, O, O, '5xx', '5xx'), 'global'], 'nothing left: the OVERFLOW floor');
  t.same(where(b.place(DURATION, duration('c', '/r0', '503'))), [h(O, 'server', O, O, O, '5xx', '5xx'), 'global']);
  t.same(b.stats(), { series: 5, services: 1, folded: { route: 1, service: 0, global: 2 }, foldedTotal: 3 }, 'the OVERFLOW floor is not counted');
});

t.test('a released series gives back its budget and, the last one, its service slot', async (t) => {
  const b = new SeriesBudget({ perService: 1, services: 1, global: 10 });
  const own = b.place(REQUESTS, h('s', 'server', '80', 'GET', '/x'));
  t.equal(own.folded, undefined);
  t.equal(b.place(REQUESTS, h('s', 'server', '80', 'GET', '/y')).folded, 'route');
  t.equal(b.place(REQUESTS, h('t', 'server', '80', 'GET', '/x')).folded, 'service');
  b.release(REQUESTS, own.key);
  b.release(REQUESTS, own.key);
  t.equal(b.stats().series, 2, 'released once; the route-folded floor and the OVERFLOW service series stay');
  b.release(REQUESTS, h('s', 'server', O, 'GET', O).join('\u0001'));
  t.equal(b.stats().services, 0);
  t.same(where(b.place(REQUESTS, h('t', 'server', '80', 'GET', '/x'))), [h('t', 'server', '80', 'GET', '/x'), undefined], 'the slot is free for another service');
});

t.test('100 000 distinct paths over 5 services: series bounded, every fold counted, memory bounded', async (t) => {
  const b = new SeriesBudget({ perService: 300, global: 2000 });
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) seen.add(b.place(REQUESTS, h(`svc${i % 5}:80`, 'server', '80', 'GET', `/items/${i}/detail`)).key);
  const stats = b.stats();
  // 270 own series each (a tenth kept for folded routes), then one route-folded series each.
  t.equal(stats.series, 5 * 271);
  t.equal(seen.size, 5 * 271);
  t.same(stats.folded, { route: 100_000 - 5 * 270, service: 0, global: 0 });
  t.ok(process.memoryUsage().heapUsed - before < 50 * 2 ** 20, 'well under 50 MiB of heap');
});

t.test('limits are validated', async (t) => {
  t.throws(() => new SeriesBudget({ perService: 0, global: 10 }), { message: 'series budget perService: 0 must be a positive integer' });
  t.throws(() => new SeriesBudget({ perService: 5, global: 1.5 }), { message: 'series budget global: 1.5 must be a positive integer' });
  t.throws(() => new SeriesBudget({ perService: 5, global: 10, services: 0 }), { message: 'series budget services: 0 must be a positive integer' });
});
