/**
 * deploy/helm/ebpf-http-tracer, rendered without Helm (./chart.ts): with its
 * default values it yields exactly the objects of deploy/kubernetes/ (but the
 * Namespace, which `helm install --create-namespace` makes, and Helm's two
 * bookkeeping labels), so the chart and the plain manifests cannot drift; with
 * the optional parts on (ServiceMonitor, PrometheusRule, a token Secret,
 * forwarding targets, another release name) every object still passes its
 * schema and the parts refer to each other by the right names.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { planForwarding } from '../../src/agent/forwarding-part';
import { loadAnalyticsOptions } from '../../src/config/analytics-config';
import { renderChart } from './chart';
import { readObjects, validateObject, type K8sObject } from './k8s-schema';

const K8S = path.join(__dirname, '..', '..', 'deploy', 'kubernetes');
const RELEASE = { name: 'ebpf-http-tracer', namespace: 'ebpf-http-tracer' };
const HELM_LABELS = { 'app.kubernetes.io/managed-by': 'Helm', 'helm.sh/chart': 'ebpf-http-tracer-0.1.0' };

const manifests = (dir: string): K8sObject[] =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => readObjects(path.join(dir, f)));
const key = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;
const byKey = (objects: K8sObject[]): Map<string, K8sObject> => new Map(objects.map((o) => [key(o), o]));

// Untyped on purpose: the tests below check the objects field by field.
/** A rendered object with Helm's labels checked and taken out, and config.json parsed: comparable to a manifest. */
function comparable(t: Test, o: K8sObject): any {
  const copy = structuredClone(o) as any;
  const strip = (labels: Record<string, string>, where: string): void => {
    t.same({ 'app.kubernetes.io/managed-by': labels['app.kubernetes.io/managed-by'], 'helm.sh/chart': labels['helm.sh/chart'] }, HELM_LABELS, where);
    for (const k of Object.keys(HELM_LABELS)) delete labels[k];
  };
  strip(copy.metadata.labels, `${key(o)} labels`);
  if (o.kind === 'DaemonSet') strip(copy.spec.template.metadata.labels, 'pod labels');
  if (o.kind === 'ConfigMap') copy.data['config.json'] = JSON.parse(copy.data['config.json']);
  return copy;
}

function manifestComparable(o: K8sObject): any {
  const copy = structuredClone(o) as any;
  if (o.kind === 'ConfigMap') copy.data['config.json'] = JSON.parse(copy.data['config.json']);
  return copy;
}

const container = (objects: K8sObject[]): any => (objects.find((o) => o.kind === 'DaemonSet') as any).spec.template.spec.containers[0];
const envOf = (objects: K8sObject[]): Record<string, any> => Object.fromEntries(container(objects).env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

t.test('default values: the objects of deploy/kubernetes/, field for field', async (t) => {
  const { objects } = renderChart(RELEASE);
  for (const o of objects) await t.resolves(validateObject(o), `${key(o)} passes its schema`);
  const expected = byKey(manifests(K8S).filter((o) => o.kind !== 'Namespace'));
  t.same([...byKey(objects).keys()].sort(), [...expected.keys()].sort(), 'the same kinds and names');
  for (const o of objects) t.same(comparable(t, o), manifestComparable(expected.get(key(o))!), key(o));
});

t.test('serviceMonitor and prometheusRule enabled: the examples of deploy/kubernetes/prometheus-operator/', async (t) => {
  const { objects } = renderChart(RELEASE, { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } });
  const expected = byKey(manifests(path.join(K8S, 'prometheus-operator')));
  for (const k of expected.keys()) {
    const o = byKey(objects).get(k);
    t.ok(o, `${k} rendered`);
    await t.resolves(validateObject(o!), `${k} passes its schema`);
    t.same(comparable(t, o!), manifestComparable(expected.get(k)!), k);
  }
  const extra = renderChart(RELEASE, { serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus' } } });
  t.equal(byKey(extra.objects).get('ServiceMonitor/ebpf-http-tracer')!.metadata.labels!.release, 'kube-prometheus', 'labels a Prometheus selects by');
});

t.test('the API token: a Secret made by the chart, or one that exists', async (t) => {
  const token = 'chart-made-token-0123456789abcdef';
  const made = renderChart(RELEASE, { apiToken: { create: true, value: token } }).objects;
  const secret = byKey(made).get('Secret/ebpf-http-tracer-api-token') as any;
  await t.resolves(validateObject(secret));
  t.same([secret.metadata.namespace, secret.type, secret.stringData], [RELEASE.namespace, 'Opaque', { token }]);
  t.same(envOf(made).HTTP_TRACER_API_TOKEN, { secretKeyRef: { name: 'ebpf-http-tracer-api-token', key: 'token', optional: true } });

  const existing = renderChart(RELEASE, { apiToken: { existingSecret: 'tracer-token', key: 'bearer' } }).objects;
  t.equal(existing.filter((o) => o.kind === 'Secret').length, 0, 'no Secret made');
  t.same(envOf(existing).HTTP_TRACER_API_TOKEN, { secretKeyRef: { name: 'tracer-token', key: 'bearer', optional: true } });
});

t.test('forwarding targets become the agent\'s variables, which its own checks accept', async (t) => {
  const urls = { remoteWriteUrl: 'http://prometheus.monitoring:9090/api/v1/write', otlpUrl: 'http://otel-collector.monitoring:4318' };
  const { objects } = renderChart(RELEASE, { forwarding: urls });
  const env = envOf(objects);
  t.same([env.HTTP_TRACER_FORWARD_REMOTE_WRITE_URL, env.HTTP_TRACER_FORWARD_OTLP_URL], [urls.remoteWriteUrl, urls.otlpUrl]);
  t.notOk('HTTP_TRACER_FORWARD_OTLP_URL' in envOf(renderChart(RELEASE).objects), 'absent by default');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, (byKey(objects).get('ConfigMap/ebpf-http-tracer-config') as any).data['config.json']);
  const podEnv = { HTTP_TRACER_DATA_DIR: env.HTTP_TRACER_DATA_DIR, HTTP_TRACER_FORWARD_REMOTE_WRITE_URL: urls.remoteWriteUrl, HTTP_TRACER_FORWARD_OTLP_URL: urls.otlpUrl };
  const plan = planForwarding(loadAnalyticsOptions(file, podEnv), podEnv);
  t.same(plan?.targets.map((target) => [target.kind, target.url]), [['remote_write', urls.remoteWriteUrl], ['otlp', `${urls.otlpUrl}/`]]);
});

t.test('another release name, port and capability list: every reference follows', async (t) => {
  const { objects } = renderChart(
    { name: 'tracer-prod', namespace: 'observability' },
    { capabilities: ['BPF', 'PERFMON'], config: { output: { analytics: { dashboard_port: 9464 } } }, image: { tag: '0.2.0' }, dataDir: '/data/tracer' },
  );
  for (const o of objects) await t.resolves(validateObject(o), `${key(o)} passes its schema`);
  const ds = byKey(objects).get('DaemonSet/tracer-prod') as any;
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  t.same(c.securityContext.capabilities, { drop: ['ALL'], add: ['BPF', 'PERFMON'] });
  t.same([c.image, ds.metadata.labels['app.kubernetes.io/version']], ['ghcr.io/ebpf-http-tracer/ebpf-http-tracer:0.2.0', '0.2.0']);
  t.same([c.ports[0].containerPort, (byKey(objects).get('Service/tracer-prod') as any).spec.ports[0].port], [9464, 9464]);
  t.equal(JSON.parse((byKey(objects).get('ConfigMap/tracer-prod-config') as any).data['config.json']).output.analytics.dashboard_port, 9464, 'the agent listens where the pod says');
  t.same(ds.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'ebpf-http-tracer', 'app.kubernetes.io/instance': 'tracer-prod' });
  t.same([pod.serviceAccountName, pod.volumes[0].configMap.name], ['tracer-prod', 'tracer-prod-config']);
  t.same(
    [pod.volumes.find((v: any) => v.name === 'data').hostPath.path, c.volumeMounts.find((m: any) => m.name === 'data').mountPath, envOf(objects).HTTP_TRACER_DATA_DIR],
    ['/data/tracer', '/data/tracer', '/data/tracer'],
  );
  const binding = byKey(objects).get('ClusterRoleBinding/tracer-prod') as any;
  t.same([binding.roleRef.name, binding.subjects], ['tracer-prod', [{ kind: 'ServiceAccount', name: 'tracer-prod', namespace: 'observability' }]]);
  t.ok(objects.filter((o) => !o.kind.startsWith('Cluster')).every((o) => o.metadata.namespace === 'observability'), 'namespaced objects in the release namespace');
});

t.test('NOTES.txt: the seccomp step and how to reach an agent', async (t) => {
  const { notes } = renderChart(RELEASE);
  t.match(notes, 'deploy/seccomp/ebpf-http-tracer.json at /var/lib/kubelet/seccomp/ebpf-http-tracer.json');
  t.match(notes, 'kubectl -n ebpf-http-tracer port-forward daemonset/ebpf-http-tracer 8080');
  t.match(notes, 'No API token');
  t.match(renderChart(RELEASE, { apiToken: { existingSecret: 'tracer-token' } }).notes, 'the token from Secret tracer-token');
});
