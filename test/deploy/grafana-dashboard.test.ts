/**
 * deploy/grafana/ebpf-http-tracer.json: a dashboard Grafana can import (JSON,
 * schemaVersion, unique panel ids, every panel on the chosen Prometheus data
 * source), with the variables and panels it promises, whose every query
 * passes the real `promtool` (as recording rules, Grafana's variables
 * replaced by values) and reads only metrics the agent exports.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { exportedNames, metricNames, promtool, promtoolMissing } from './promql';

const FILE = path.join(__dirname, '..', '..', 'deploy', 'grafana', 'ebpf-http-tracer.json');

interface Target {
  refId: string;
  expr: string;
  datasource: unknown;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: unknown;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string;
  allValue?: string;
}
const dashboard = JSON.parse(fs.readFileSync(FILE, 'utf8')) as { schemaVersion: unknown; uid: unknown; panels: Panel[]; templating: { list: Variable[] } };
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => ({ panel: p, target })));
const variableQueries = dashboard.templating.list.filter((v) => v.type === 'query').map((v) => /^label_values\((.*), *\w+\)$/.exec(v.query)![1]);

/** What Grafana sends Prometheus: its variables replaced (a multi-value "All" is ".*"). */
const substituted = (expr: string): string =>
  expr.replace(/\$__rate_interval|\$__range/g, '5m').replace(/\$namespace|\$service/g, '.*');

t.test('importable: JSON, schemaVersion, uid, unique ids, on grid, every query on the chosen data source', async (t) => {
  t.equal(typeof dashboard.schemaVersion, 'number');
  t.equal(dashboard.uid, 'ebpf-http-tracer-red');
  const ids = dashboard.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'unique panel ids');
  for (const p of dashboard.panels) {
    t.ok(p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.h > 0, `${p.title}: within the 24-column grid`);
    if (p.type === 'row') continue;
    t.same(p.datasource, DATASOURCE, `${p.title}: data source variable`);
    for (const q of p.targets!) t.same(q.datasource, DATASOURCE, `${p.title} ${q.refId}`);
  }
});

t.test('the variables and panels it promises', async (t) => {
  t.same(
    dashboard.templating.list.map((v) => [v.name, v.type, v.query]),
    [
      ['datasource', 'datasource', 'prometheus'],
      ['namespace', 'query', 'label_values(http_server_request_duration_seconds_count, k8s_namespace_name)'],
      ['service', 'query', 'label_values(http_server_request_duration_seconds_count{k8s_namespace_name=~"$namespace"}, service_name)'],
    ],
  );
  t.same(dashboard.templating.list.slice(1).map((v) => v.allValue), ['.*', '.*'], '"All" also matches series without the label (outside Kubernetes)');
  const panel = (title: string): Panel => dashboard.panels.find((p) => p.title === title)!;
  t.same(
    dashboard.panels.filter((p) => p.type !== 'row').map((p) => `${p.type}: ${p.title}`),
    [
      'timeseries: Requests per second',
      'timeseries: Error ratio',
      'timeseries: Latency p50 / p95 / p99',
      'table: Routes',
      'timeseries: Calls per second',
      'timeseries: Call error ratio',
      'timeseries: Call latency p95',
      'timeseries: Exchanges lost per second',
      'timeseries: Engine queue use',
      'timeseries: eBPF programs attached',
      'timeseries: Series and folded updates',
      'timeseries: Agent CPU',
      'timeseries: Agent memory',
    ],
  );
  t.same(panel('Latency p50 / p95 / p99').targets!.map((q) => /^histogram_quantile\(([\d.]+),/.exec(q.expr)?.[1]), ['0.5', '0.95', '0.99']);
  t.ok(panel('Routes').targets!.every((q) => /\bby \([^)]*\bhttp_route\b/.test(q.expr)), 'the table is per route');
  for (const title of ['Calls per second', 'Call error ratio', 'Call latency p95']) {
    t.ok(panel(title).targets!.every((q) => /http_client_request_duration_seconds_/.test(q.expr) && /server_address/.test(q.expr)), `${title}: client side, per server called`);
  }
  for (const { panel: p, target } of queries.filter((q) => /http_(server|client)_/.test(q.target.expr))) {
    t.match(target.expr, 'k8s_namespace_name=~"$namespace", service_name=~"$service"', `${p.title} ${target.refId} follows the selectors`);
  }
});

t.test('every query reads only metrics the agent exports', async (t) => {
  const exported = exportedNames();
  const used = new Set<string>();
  for (const expr of [...queries.map((q) => q.target.expr), ...variableQueries]) {
    for (const name of metricNames(expr)) {
      used.add(name);
      t.ok(exported.has(name), `${name} is exported`);
    }
  }
  t.ok(used.has('http_server_request_duration_seconds_bucket') && used.has('http_client_request_duration_seconds_count') && used.has('http_tracer_events_lost_total'));
});

t.test('promtool parses every query', { skip: promtoolMissing() }, async (t) => {
  const rules = [...queries.map((q) => ({ record: `dashboard:panel_${q.panel.id}:${q.target.refId}`, expr: substituted(q.target.expr) })), ...variableQueries.map((expr, i) => ({ record: `dashboard:variable_${i}`, expr: substituted(expr) }))];
  for (const r of rules) t.notMatch(r.expr, /\$/, `${r.record}: no variable left`);
  const run = promtool(t, ['check', 'rules', 'dashboard.yaml'], { 'dashboard.yaml': { groups: [{ name: 'dashboard', rules }] } });
  t.equal(run.status, 0, run.output);
  t.match(run.output, `SUCCESS: ${rules.length} rules found`);
});
