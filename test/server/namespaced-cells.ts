/**
 * Duration cells of two namespaces that both run a service "api" (a workload
 * name, as in Kubernetes) and of one process outside Kubernetes, for the
 * namespace tests of /api/metrics, the live subscription and the dashboard.
 * (Here rather than in test/helpers/: only test/server/ uses it.)
 */
import type { DeltaCell } from '../../src/analytics/cells';
import { Distribution } from '../../src/analytics/distribution';
import { DEFAULT_DURATION_BUCKETS_SECONDS, seriesKey } from '../../src/analytics/families';
import { WORKLOAD_LABELS } from '../../src/metadata/workload';
import { NO_HTTP_IDENTITY } from '../helpers/identity-labels';

const NS = WORKLOAD_LABELS.indexOf('k8s_namespace_name');

/** One duration cell of a series of service/namespace ("" outside Kubernetes): `seconds` observations, all in the bucket `bucketMs`. */
export function durations(bucketMs: number, service: string, namespace: string, route: string, status: string, seconds: number[]): DeltaCell {
  const identity = [...NO_HTTP_IDENTITY];
  identity[NS] = namespace;
  const labels = [service, 'server', '8080', 'GET', route, status, status[0] === '5' ? '5xx' : '', ...identity];
  const d = new Distribution();
  for (const s of seconds) d.record(s);
  return { family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs, value: seconds.length, dist: d.toData(), bounds: [seconds.length, ...new Array(DEFAULT_DURATION_BUCKETS_SECONDS.length).fill(0)] };
}

/** shop/api: 4 exchanges (1 a 500) on /cart; billing/api: 2 on /invoices; worker:9000 outside Kubernetes: 1. All 20 s before nowMs. */
export function namespacedCells(nowMs: number): DeltaCell[] {
  const bucketMs = nowMs - (nowMs % 10_000) - 20_000;
  return [
    durations(bucketMs, 'api', 'shop', '/cart', '200', [0.01, 0.02, 0.03]),
    durations(bucketMs, 'api', 'shop', '/cart', '500', [0.04]),
    durations(bucketMs, 'api', 'billing', '/invoices', '200', [0.005, 0.006]),
    durations(bucketMs, 'worker:9000', '', '/jobs', '200', [0.1]),
  ];
}
