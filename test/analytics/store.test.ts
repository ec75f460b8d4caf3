/**
 * The store on hand-made delta cells: window edges and coverage, range
 * queries with steps, grouping and matchers, totals, budget folding at the
 * store, and every query error naming its field.
 */
import t from 'tap';
import type { DeltaCell } from '../../src/analytics/cells';
import { DEFAULT_DURATION_BUCKETS_SECONDS, FAMILIES, seriesKey } from '../../src/analytics/families';
import { Distribution } from '../../src/analytics/distribution';
import type { SeriesBudgetLimits } from '../../src/analytics/series-budget';
import { NO_HTTP_IDENTITY } from '../helpers/identity-labels';
import { MetricStore, type HistogramSummary } from '../../src/analytics/store';

const T0 = 1_800_000_000_000; // a multiple of 5 minutes
let now = T0;

function store(retentionMs = 86_400_000, limits: SeriesBudgetLimits = { perService: 100, global: 1000 }): MetricStore {
  return new MetricStore({ families: FAMILIES, retentionMs, limits, now: () => now });
}

function requests(bucketMs: number, value: number, route = '/a', service = 'api:80', method = 'GET'): DeltaCell {
  const labels = [service, 'server', '80', method, route, ...NO_HTTP_IDENTITY];
  return { family: 'http_requests_total', labels, key: seriesKey(labels), bucketMs, value };
}

function durations(bucketMs: number, values: number[], route = '/a'): DeltaCell {
  const d = new Distribution();
  values.forEach((v) => d.record(v));
  const labels = ['api:80', 'server', '80', 'GET', route, '200', '', ...NO_HTTP_IDENTITY];
  return { family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs, value: values.length, dist: d.toData(), bounds: [values.length, ...new Array(DEFAULT_DURATION_BUCKETS_SECONDS.length).fill(0)] };
}

t.test('a window covers the buckets ending after its start; the rate divides by the time covered', async (t) => {
  now = T0 + 125_000; // 2m05s: the current 10 s bucket started at 2m00s
  const s = store();
  s.ingest([requests(T0, 10), requests(T0 + 60_000, 20), requests(T0 + 70_000, 5), requests(T0 + 120_000, 1)]);
  // 1m window: buckets from 1m10s to 2m00s.
  t.same(s.window({ metric: 'http_requests_total' }, 60_000).map((r) => r.summary), [{ value: 6, rate: 6 / 55 }]);
  // 5m window reaches before the first data: the rate covers 2m05s only.
  t.same(s.window({ metric: 'http_requests_total' }, 300_000).map((r) => r.summary), [{ value: 36, rate: 36 / 125 }]);
});

t.test('group by, matchers, and the seed aggregation functions on histograms', async (t) => {
  now = T0 + 30_000;
  const s = store();
  s.ingest([requests(T0, 3, '/a'), requests(T0, 4, '/b'), requests(T0, 5, '/b', 'web:80'), requests(T0, 6, '/c', 'web:80', 'POST')]);
  const by = (match: Record<string, never> | Parameters<MetricStore['window']>[0]['match'], labels: string[]) =>
    s.window({ metric: 'http_requests_total', match, by: labels }, 60_000).map((r) => [Object.values(r.labels).join(' '), r.summary.value]).sort();
  t.same(by({}, ['service']), [['api:80', 7], ['web:80', 11]]);
  t.same(by({ service: 'web:80' }, ['route']), [['/b', 5], ['/c', 6]]);
  t.same(by({ route: { op: '!=', value: '/b' } }, ['route']), [['/a', 3], ['/c', 6]]);
  t.same(by({ route: { op: '=~', value: '/[ab]' } }, []), [['', 12]]);
  t.same(by({ route: { op: '!~', value: '/[ab]' } }, ['method']), [['POST', 6]]);
  t.same(by({ route: { op: '=~', value: 'b' } }, []), [], 'regular expressions are anchored, as in PromQL');

  s.ingest([durations(T0, [0.1, 0.2, 0.3, 0.4]), durations(T0 + 10_000, [1, 2])]);
  const [row] = s.window({ metric: 'http_request_duration_seconds', by: ['route'] }, 60_000);
  const h = row.summary as HistogramSummary;
  t.same([h.count, h.min, h.max], [6, 0.1, 2]);
  t.ok(Math.abs(h.sum - 4) < 1e-12 && Math.abs(h.mean - 4 / 6) < 1e-12, 'sum and average');
  t.same([h.p50, h.p90, h.p99], [0.3, 1, 1], 'few values: exact quantiles (rank floor(q (n - 1)))');
  t.equal(h.rate, 6 / 30);
  const [series] = s.seriesOf('http_request_duration_seconds');
  t.same(series.total.histogram, { count: 6, sum: 0.1 + 0.2 + 0.3 + 0.4 + 1 + 2, bounds: [6, ...new Array(DEFAULT_DURATION_BUCKETS_SECONDS.length).fill(0)] }, 'all-time totals for exporters');
});

t.test('range queries: one point per step, from the finest tier that reaches back', async (t) => {
  now = T0 + 3_600_000;
  const s = store();
  const cells = Array.from({ length: 60 }, (_, i) => requests(T0 + i * 60_000, i + 1));
  s.ingest(cells);
  const rows = s.range({ metric: 'http_requests_total' }, T0, T0 + 3_600_000 - 1, 600_000);
  t.equal(rows.length, 1);
  t.same(
    rows[0].points.map((p) => p.summary.value),
    [0, 1, 2, 3, 4, 5].map((k) => Array.from({ length: 10 }, (_, i) => k * 10 + i + 1).reduce((a, b) => a + b)),
    '10-minute steps sum their minutes',
  );
  t.same(rows[0].points.map((p) => p.t), [0, 1, 2, 3, 4, 5].map((k) => T0 + k * 600_000));
  t.equal(rows[0].points[0].summary.rate, 55 / 600);
  const recent = s.range({ metric: 'http_requests_total' }, now - 600_000, now, 10_000);
  t.same(
    recent[0].points.map((p) => [p.t, p.summary.value]),
    Array.from({ length: 10 }, (_, i) => [T0 + (50 + i) * 60_000, 51 + i]),
    '10 s steps over the last 10 minutes (the 10 s tier); points only where there is data, as Prometheus',
  );
  t.throws(() => s.range({ metric: 'http_requests_total' }, T0, now, 10_000), { message: 'step: 10s must be a multiple of 1m, the resolution kept that far back' });
  t.throws(() => s.range({ metric: 'http_requests_total' }, T0, T0 - 1, 60_000), { message: 'end: must not be before start' });
  t.throws(() => s.range({ metric: 'http_requests_total' }, now - 60_000, now - 60_000 + 11_000 * 10_000, 10_000), { message: 'step: 11001 points per series; at most 11000: use a larger step' });
});

t.test('query errors name the field and the reason', async (t) => {
  now = T0;
  const s = store(3_600_000);
  t.throws(() => s.window({ metric: 'nope' }, 60_000), { field: 'metric', message: /^metric: "nope" is not a metric \(known: http_requests_total, / });
  t.throws(() => s.window({ metric: 'http_requests_total', match: { colour: 'red' } }, 60_000), { message: 'label colour: not a label of http_requests_total (its labels: service, side, server_port, method, route, k8s_namespace_name, k8s_pod_name, k8s_container_name, k8s_deployment_name, k8s_statefulset_name, k8s_daemonset_name, k8s_cronjob_name, k8s_job_name, server_address)' });
  t.throws(() => s.window({ metric: 'http_requests_total', by: ['pid'] }, 60_000), { message: /^label pid: not a label/ });
  t.throws(() => s.window({ metric: 'http_requests_total', match: { route: { op: '=~', value: '(' } } }, 60_000), { message: /^label route: bad regular expression/ });
  t.throws(() => s.window({ metric: 'http_requests_total', match: { route: { op: '<>' as '=', value: 'x' } } }, 60_000), { message: 'label route: unknown operator "<>" (=, !=, =~, !~)' });
  t.throws(() => s.window({ metric: 'http_requests_total' }, 2 * 3_600_000), { message: 'window: 2h is beyond the retention of 1h' });
  t.throws(() => s.window({ metric: 'http_requests_total' }, 5_000), { message: 'window: 5s must be at least 10s' });
  t.throws(() => s.window({ metric: 'http_requests_total' }, 20 * 60_000 + 10_000), { message: 'window: 1210s is not a multiple of 1m, the resolution kept for counter windows this long' });
  t.throws(() => s.range({ metric: 'http_requests_total' }, 0, 1e15, 60_000), { message: /^start: .* is beyond the retention of 1h$/ });
});

t.test('the store enforces the budget: routes fold first, then the floor; past the global cap the OVERFLOW floor; totals stay exact', async (t) => {
  now = T0 + 5_000;
  const s = store(86_400_000, { perService: 2, global: 4 });
  s.ingest([requests(T0, 1, '/a'), requests(T0, 1, '/b'), requests(T0, 1, '/c'), requests(T0, 1, '/d', 'api:80', 'POST'), requests(T0, 7, '/a', 'web:80'), requests(T0, 2, '/b', 'web:80')]);
  const rows = s.window({ metric: 'http_requests_total' }, 60_000).map((r) => [r.labels.service, r.labels.server_port, r.labels.route, r.labels.method, r.summary.value]);
  t.same(
    rows.sort(),
    [
      ['__overflow__', '__overflow__', '__overflow__', 'GET', 9],
      ['api:80', '80', '/a', 'GET', 1],
      ['api:80', '80', '/b', 'GET', 1],
      ['api:80', '__overflow__', '__overflow__', 'GET', 1],
      ['api:80', '__overflow__', '__overflow__', 'POST', 1],
    ].sort(),
  );
  t.same(s.stats().budget, { series: 4, services: 1, folded: { route: 2, service: 0, global: 2 }, foldedTotal: 4 });
});

t.test('an idle series gives its budget back: new series get their own names, the old data stays queryable', async (t) => {
  now = T0 + 5_000;
  const idleMs = 15 * 60_000;
  const s = store(86_400_000, { perService: 10, global: 1000, idleMs });
  s.ingest(Array.from({ length: 10 }, (_, i) => requests(T0, 1, `/old${i}`)));
  const routes = (windowMs: number) => s.window({ metric: 'http_requests_total', by: ['route'] }, windowMs).map((r) => `${r.labels.route} ${r.summary.value}`).sort();
  t.same(routes(60_000), [...Array.from({ length: 9 }, (_, i) => `/old${i} 1`), '__overflow__ 1'], 'nine own series, the tenth folded');
  now = T0 + 10_000 + idleMs - 1;
  s.expire();
  t.equal(s.stats().budget.series, 10, 'not idle yet: every series holds its budget');
  now = T0 + 10_000 + idleMs;
  s.expire();
  t.equal(s.stats().budget.series, 0, 'idle: none does');
  const bucket = now - (now % 10_000);
  s.ingest(Array.from({ length: 9 }, (_, i) => requests(bucket, 1, `/new${i + 1}`)));
  t.same(routes(60_000), Array.from({ length: 9 }, (_, i) => `/new${i + 1} 1`), 'after the idle time, new routes have their own series');
  t.same(routes(3_600_000), [...Array.from({ length: 9 }, (_, i) => `/new${i + 1} 1`), ...Array.from({ length: 9 }, (_, i) => `/old${i} 1`), '__overflow__ 1'].sort(), 'the idle series still answer the hour');
  s.ingest([requests(bucket, 5, '/old0')]);
  t.same(routes(60_000).filter((r) => r.startsWith('__')), ['__overflow__ 5'], 'an idle series written again is placed again: no room, it folds');
});

t.test('retired series beyond the global cap are forgotten, the longest idle first', async (t) => {
  now = T0 + 5_000;
  const s = store(86_400_000, { perService: 100, global: 5, idleMs: 60_000 });
  s.ingest([requests(T0, 1, '/a'), requests(T0 + 10_000, 1, '/b'), requests(T0 + 20_000, 1, '/c')]);
  now = T0 + 200_000;
  s.expire();
  s.ingest(['/d', '/e', '/f'].map((route) => requests(T0 + 190_000, 1, route)));
  now = T0 + 400_000;
  s.expire();
  t.same(
    s.window({ metric: 'http_requests_total', by: ['route'] }, 900_000).map((r) => r.labels.route).sort(),
    ['/b', '/c', '/d', '/e', '/f'],
    'six retired, five kept: /a, the longest idle, is gone',
  );
});
