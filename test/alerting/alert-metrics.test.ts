/**
 * Alert metric names: the RED names read through red.ts, store families with
 * _rate and histogram statistics, their labels and kinds, group keys, and
 * the values per group on a store filled with cells.
 */
import { WORKLOAD_LABELS } from '../../src/metadata/workload';
import t from 'tap';
import type { DeltaCell } from '../../src/analytics/cells';
import { Distribution } from '../../src/analytics/distribution';
import { FAMILIES, seriesKey } from '../../src/analytics/families';
import { redRows } from '../../src/analytics/red';
import { MetricStore } from '../../src/analytics/store';
import { NO_HTTP_IDENTITY, NO_WORKLOAD } from '../helpers/identity-labels';
import { groupKey, resolveAlertMetric, type AlertMetric } from '../../src/alerting/alert-metrics';

const T0 = 1_800_000_000_000;
const NOW = T0 + 15_000;

function durations(service: string, route: string, status: string, errorType: string, values: number[]): DeltaCell {
  const d = new Distribution();
  values.forEach((v) => d.record(v));
  const labels = [service, 'server', '80', 'GET', route, status, errorType, ...NO_HTTP_IDENTITY];
  return { family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs: T0, value: values.length, dist: d.toData(), bounds: [values.length, ...new Array(14).fill(0)] };
}
function sizes(service: string, values: number[]): DeltaCell {
  const d = new Distribution();
  values.forEach((v) => d.record(v));
  const labels = [service, 'server', '80', '/', ...NO_HTTP_IDENTITY];
  return { family: 'http_response_size_bytes', labels, key: seriesKey(labels), bucketMs: T0, value: values.length, dist: d.toData(), bounds: [values.length, ...new Array(10).fill(0)] };
}
function bytes(service: string, direction: string, value: number): DeltaCell {
  const labels = [service, 'server', 'tcp', direction, ...NO_WORKLOAD];
  return { family: 'network_bytes_total', labels, key: seriesKey(labels), bucketMs: T0, value };
}

const metric = (name: string): AlertMetric => {
  const m = resolveAlertMetric(name);
  if (typeof m === 'string') throw new Error(m);
  return m;
};

t.test('names, families, kinds and labels', async (t) => {
  const cases: [string, string, string][] = [
    ['http_requests_total', 'http_request_duration_seconds', 'count'],
    ['http_requests_total_rate', 'http_request_duration_seconds', 'rate'],
    ['http_errors_total', 'http_request_duration_seconds', 'count'],
    ['http_errors_total_rate', 'http_request_duration_seconds', 'rate'],
    ['error_rate', 'http_request_duration_seconds', 'fraction'],
    ['http_request_duration_histogram_p95', 'http_request_duration_seconds', 'seconds'],
    ['http_request_duration_seconds_max', 'http_request_duration_seconds', 'seconds'],
    ['http_request_duration_seconds', 'http_request_duration_seconds', 'count'],
    ['http_request_duration_seconds_rate', 'http_request_duration_seconds', 'rate'],
    ['http_responses_total_rate', 'http_responses_total', 'rate'],
    ['network_bytes_total', 'network_bytes_total', 'count'],
    ['http_response_size_bytes_p99', 'http_response_size_bytes', 'bytes'],
    ['process_events_total_rate', 'process_events_total', 'rate'],
  ];
  for (const [name, family, kind] of cases) {
    const m = metric(name);
    t.same([m.family, m.kind], [family, kind], name);
  }
  t.same(metric('error_rate').labels, ['service', 'side', 'server_port', 'method', 'route', 'status_code', ...WORKLOAD_LABELS, 'server_address', 'scheme'], 'RED names: no error_type');
  t.same(metric('http_request_duration_seconds').labels.includes('error_type'), true, 'the family itself: all its labels');
  t.same(metric('process_events_total').serviceLabel, 'process_name');
  t.same([metric('api_errors_total').family, metric('api_errors_total').kind, metric('api_errors_total_rate').kind, metric('api_requests_total_rate').name], ['http_request_duration_seconds', 'count', 'rate', 'api_requests_total_rate'], "seed 000's names are the RED ones");
  for (const bad of ['api_latency_total', 'api_errors_total_p95', 'http_requests_total_p95', 'network_bytes_total_rate_rate', 'http_request_duration_histogram_p75', '']) {
    t.match(resolveAlertMetric(bad), /is not a metric alerts can use/, JSON.stringify(bad));
  }
  t.equal(groupKey({ service: 'a', route: '/x' }, ['service', 'route']), 'a\u0000/x');
  t.equal(groupKey({ service: 'a' }, []), '');
});

t.test('values per group', async (t) => {
  const store = new MetricStore({ families: FAMILIES, retentionMs: 86_400_000, limits: { perService: 100, global: 1000 }, now: () => NOW });
  store.ingest([
    durations('api:80', '/a', '200', '', [0.01, 0.02, 0.03]),
    durations('api:80', '/a', '500', '5xx', [0.5]),
    durations('api:80', '/b', '200', '', [0.04]),
    durations('web:80', '/', '200', '', [0.1, 0.3]),
    sizes('api:80', [100, 300]),
    bytes('api:80', 'rx', 1000),
    bytes('api:80', 'tx', 5000),
  ]);
  const values = (name: string, match: Record<string, string> = {}, by = ['service']) =>
    Object.fromEntries([...metric(name).values(store, 60_000, match, by, NOW)].map(([k, v]) => [k, v.value]));
  // 15 s covered.
  t.same(values('http_requests_total'), { 'api:80': 5, 'web:80': 2 });
  t.same(values('http_requests_total_rate'), { 'api:80': 5 / 15, 'web:80': 2 / 15 });
  t.same(values('http_errors_total'), { 'api:80': 1, 'web:80': 0 });
  t.same(values('http_errors_total_rate'), { 'api:80': 1 / 15, 'web:80': 0 });
  const red = Object.fromEntries(redRows(store, 60_000, ['service'], {}, NOW).map((r) => [r.labels.service, r]));
  t.same(values('error_rate'), { 'api:80': red['api:80'].errorRate, 'web:80': red['web:80'].errorRate }, 'as redRows');
  t.same(values('http_request_duration_histogram_p95'), { 'api:80': red['api:80'].latencySeconds.p95, 'web:80': red['web:80'].latencySeconds.p95 });
  t.same(values('http_request_duration_seconds_max'), { 'api:80': 0.5, 'web:80': 0.3 });
  t.same(values('error_rate', { route: '/a' }, ['service', 'route']), { 'api:80\u0000/a': 0.25 });
  t.same(values('http_requests_total', {}, []), { '': 7 }, 'no group_by: one group');
  t.same(values('http_response_size_bytes_mean'), { 'api:80': 200 });
  t.same(values('network_bytes_total_rate', { direction: 'tx' }), { 'api:80': 5000 / 15 });
  t.same(values('http_request_duration_histogram_p95', { service: 'nobody' }), {}, 'no data: no group');
  const [[, entry]] = [...metric('error_rate').values(store, 60_000, {}, ['service', 'route'], NOW)];
  t.same(entry.labels, { service: 'api:80', route: '/a' }, 'the group labels');
});
