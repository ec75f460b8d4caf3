/**
 * The PrometheusRule example (deploy/kubernetes/prometheus-operator/): its
 * rules pass the real `promtool check rules`, read only metrics the agent
 * exports (and Prometheus's own `up`), and `promtool test rules` shows each
 * alert firing on the series that should fire it — with its labels and
 * rendered summary — and not on those that should not.
 */
import path from 'node:path';
import t from 'tap';
import { WORKLOAD_LABELS } from '../../src/metadata/workload';
import { readObjects } from './k8s-schema';
import { exportedNames, metricNames, promtool, promtoolMissing } from './promql';

const FILE = path.join(__dirname, '..', '..', 'deploy', 'kubernetes', 'prometheus-operator', 'prometheusrule.yaml');
interface Rule {
  alert: string;
  expr: string;
}
const [rule] = readObjects(FILE);
const groups = (rule.spec as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);

t.test('the rules read only what the agent exports, by labels it sets', async (t) => {
  const exported = exportedNames();
  for (const r of rules) {
    for (const name of metricNames(r.expr)) t.ok(name === 'up' || exported.has(name), `${r.alert}: ${name}`);
  }
  t.same(
    rules.map((r) => metricNames(r.expr)),
    [['http_server_request_duration_seconds_count'], ['http_server_request_duration_seconds_bucket'], ['up'], ['http_tracer_events_lost_total'], ['http_tracer_probes_attached']],
  );
  t.ok(WORKLOAD_LABELS.includes('k8s_namespace_name'), 'k8s_namespace_name is a label of every HTTP series');
});

t.test('promtool check rules', { skip: promtoolMissing() }, async (t) => {
  const ok = promtool(t, ['check', 'rules', 'rules.yaml'], { 'rules.yaml': { groups } });
  t.equal(ok.status, 0, ok.output);
  t.match(ok.output, 'SUCCESS: 5 rules found');
  const broken = structuredClone(groups);
  broken[0].rules[1].expr = 'histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket[5m])) > 1';
  const bad = promtool(t, ['check', 'rules', 'rules.yaml'], { 'rules.yaml': { groups: broken } });
  t.equal(bad.status, 1, 'a broken expression is refused');
  t.match(bad.output, /unclosed left parenthesis/);
});

// http_server_request_duration_seconds_count of one service and status, rising `perMinute`.
const requests = (service: string, status: string, perMinute: number) => ({
  series: `http_server_request_duration_seconds_count{k8s_namespace_name="shop",service_name="${service}",http_response_status_code="${status}"}`,
  values: `0+${perMinute}x30`,
});
const bucket = (le: string, perMinute: number) => ({
  series: `http_server_request_duration_seconds_bucket{k8s_namespace_name="shop",service_name="orders",le="${le}"}`,
  values: `0+${perMinute}x30`,
});
const node = { node: 'node-1', instance: '10.0.0.1:8080', job: 'ebpf-http-tracer' };
const labels = (extra: Record<string, string>): string =>
  Object.entries({ ...node, ...extra })
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');

const UNIT_TESTS = {
  rule_files: ['rules.yaml'],
  evaluation_interval: '1m',
  tests: [
    {
      interval: '1m',
      input_series: [
        // orders: 1/s ok, 0.2/s 5xx (16.7 %); cart: 1.6 % 5xx; quiet: only 5xx, but 0.05/s.
        requests('orders', '200', 60),
        requests('orders', '503', 12),
        requests('cart', '200', 60),
        requests('cart', '500', 1),
        requests('quiet', '503', 3),
        // orders: 10 % of requests within 1 s, the rest within 2.5 s.
        bucket('0.5', 5),
        bucket('1', 10),
        bucket('2.5', 100),
        bucket('+Inf', 100),
        { series: `up{${labels({})}}`, values: '1x5 0x25' },
        { series: `http_tracer_events_lost_total{${labels({ reason: 'ringbuf_full' })}}`, values: '0+10x30' },
        { series: `http_tracer_events_lost_total{${labels({ reason: 'response_without_request' })}}`, values: '0+10x30' },
        { series: `http_tracer_probes_attached{${labels({ state: 'attached' })}}`, values: '13x30' },
        { series: `http_tracer_probes_attached{${labels({ state: 'expected' })}}`, values: '14x30' },
      ],
      alert_rule_test: [
        { eval_time: '9m', alertname: 'HttpServerHighErrorRatio', exp_alerts: [] },
        {
          eval_time: '16m',
          alertname: 'HttpServerHighErrorRatio',
          exp_alerts: [
            {
              exp_labels: { severity: 'warning', k8s_namespace_name: 'shop', service_name: 'orders' },
              exp_annotations: { summary: 'orders in shop answers 5xx to 16.67% of requests' },
            },
          ],
        },
        {
          eval_time: '16m',
          alertname: 'HttpServerHighLatencyP95',
          exp_alerts: [
            {
              exp_labels: { severity: 'warning', k8s_namespace_name: 'shop', service_name: 'orders' },
              exp_annotations: { summary: 'orders in shop: p95 latency 2.417s' },
            },
          ],
        },
        { eval_time: '9m', alertname: 'EbpfHttpTracerDown', exp_alerts: [] },
        {
          eval_time: '12m',
          alertname: 'EbpfHttpTracerDown',
          exp_alerts: [{ exp_labels: { severity: 'critical', ...node }, exp_annotations: { summary: "The HTTP tracer on node-1 cannot be scraped: that node's traffic is not seen" } }],
        },
        {
          eval_time: '16m',
          alertname: 'EbpfHttpTracerLosingEvents',
          exp_alerts: [{ exp_labels: { severity: 'warning', node: 'node-1', reason: 'ringbuf_full' }, exp_annotations: { summary: 'The HTTP tracer on node-1 loses exchanges (ringbuf_full)' } }],
        },
        {
          eval_time: '6m',
          alertname: 'EbpfHttpTracerProbesMissing',
          exp_alerts: [
            {
              exp_labels: { severity: 'warning', ...node },
              exp_annotations: { summary: 'The HTTP tracer on node-1 attached 13 of its eBPF programs' },
            },
          ],
        },
      ],
    },
  ],
};

t.test('promtool test rules: each alert fires where it should, with its labels and summary', { skip: promtoolMissing() }, async (t) => {
  const run = promtool(t, ['test', 'rules', 'tests.yaml'], { 'rules.yaml': { groups }, 'tests.yaml': UNIT_TESTS });
  t.equal(run.status, 0, run.output);
  t.match(run.output, 'SUCCESS');

  // The same tests fail when an alert does not fire as expected.
  const wrong = structuredClone(UNIT_TESTS);
  wrong.tests[0].alert_rule_test[0] = { ...wrong.tests[0].alert_rule_test[1], eval_time: '9m' };
  const failed = promtool(t, ['test', 'rules', 'tests.yaml'], { 'rules.yaml': { groups }, 'tests.yaml': wrong });
  t.equal(failed.status, 1);
  t.match(failed.output, /alertname: HttpServerHighErrorRatio, time: 9m/);
});
