/**
 * url_scheme on the OpenTelemetry duration histograms (src/exporters/naming.ts):
 * the store's scheme label, "https" for an exchange read through the TLS
 * uprobes; "http" for one in the clear and for a series written without a
 * scheme (the label is always present).
 */
import t from 'tap';
import type { DeltaCell } from '../../src/analytics/cells';
import { Distribution } from '../../src/analytics/distribution';
import { DEFAULT_DURATION_BUCKETS_SECONDS, FAMILIES, seriesKey } from '../../src/analytics/families';
import { MetricStore } from '../../src/analytics/store';
import { exportedMetrics } from '../../src/exporters/naming';
import { WORKLOAD_LABELS } from '../../src/metadata/workload';
import { NO_HTTP_IDENTITY } from '../helpers/identity-labels';

const NOW = 1_800_000_000_000;

function duration(labels: string[]): DeltaCell {
  const d = new Distribution();
  d.record(0.002);
  return { family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs: NOW - 10_000, value: 1, dist: d.toData(), bounds: [0, 0, 0, 0, 0, 0, 0, 1, ...new Array(DEFAULT_DURATION_BUCKETS_SECONDS.length - 8).fill(0)] };
}

t.test('the scheme label goes out as url_scheme: https for TLS, http in the clear or when unset', async (t) => {
  const store = new MetricStore({ families: FAMILIES, retentionMs: 3_600_000, limits: { perService: 1e6, global: 1e6 }, now: () => NOW });
  const head = ['node:8443', 'server', '8443', 'GET', '/a', '200', ''];
  store.ingest([duration([...head, ...NO_HTTP_IDENTITY, 'https']), duration([...head, ...NO_HTTP_IDENTITY, 'http']), duration([...head.slice(0, 4), '/b', '200', '', ...NO_HTTP_IDENTITY, ''])]);
  const server = exportedMetrics(store.families).find((m) => m.name === 'http_server_request_duration_seconds')!;
  const labels = [...store.seriesOf('http_request_duration_seconds')].filter((s) => server.accepts(s)).map((s) => server.labelsOf(s));
  const common = { service_name: 'node:8443', server_port: '8443', http_request_method: 'GET', http_response_status_code: '200' };
  t.same(labels, [
    { ...common, http_route: '/a', url_scheme: 'https' },
    { ...common, http_route: '/a', url_scheme: 'http' },
    { ...common, http_route: '/b', url_scheme: 'http' },
  ]);
  t.same(server.labelNames, ['service_name', 'server_port', 'http_request_method', 'http_route', 'http_response_status_code', 'error_type', ...WORKLOAD_LABELS, 'server_address', 'url_scheme'], 'url_scheme once, last');
});
