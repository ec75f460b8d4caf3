/**
 * deploy/kubernetes/ without kubectl: every object parses and passes the
 * Kubernetes OpenAPI schema of its kind (./k8s-schema.ts), the kustomizations
 * list every file, the DaemonSet carries exactly the security settings, mounts,
 * env and probes the agent is meant to run with, the names that tie the
 * objects together agree, and the ConfigMap's config.json passes the agent's
 * own configuration checks (the ones `http-tracer run` makes before loading
 * anything).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { planAlerting } from '../../src/agent/alerting-part';
import { planForwarding } from '../../src/agent/forwarding-part';
import { FAMILIES } from '../../src/analytics/families';
import { loadAnalyticsOptions } from '../../src/config/analytics-config';
import { resolveEngineOptions } from '../../src/pipeline/engine-options';
import { metricsPathConflict } from '../../src/server/app';
import { readObjects, validateObject, type K8sObject } from './k8s-schema';

const DEPLOY = path.join(__dirname, '..', '..', 'deploy');
const K8S = path.join(DEPLOY, 'kubernetes');
const OPERATOR = path.join(K8S, 'prometheus-operator');
const NAMESPACE = 'ebpf-http-tracer';
const LABELS = {
  'app.kubernetes.io/name': 'ebpf-http-tracer',
  'app.kubernetes.io/instance': 'ebpf-http-tracer',
  'app.kubernetes.io/version': '0.1.0',
  'app.kubernetes.io/component': 'agent',
};

const yamlFiles = (dir: string): string[] =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort();
const objectsOf = (dir: string): K8sObject[] => yamlFiles(dir).flatMap((f) => readObjects(path.join(dir, f)));
const base = objectsOf(K8S);
const operator = objectsOf(OPERATOR);
const one = (kind: string, objects = base): K8sObject => {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`${found.length} objects of kind ${kind}`);
  return found[0];
};

// Untyped on purpose: the tests below check the objects field by field.
const daemonSet = one('DaemonSet') as any;
const pod = daemonSet.spec.template.spec;
const container = pod.containers[0];

t.test('each kustomization lists every manifest of its folder, and the base leaves the operator objects out', async (t) => {
  for (const dir of [K8S, OPERATOR]) {
    const k = parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { kind: string; resources: string[] };
    t.equal(k.kind, 'Kustomization');
    t.same([...k.resources].sort(), yamlFiles(dir), path.relative(DEPLOY, dir));
  }
});

t.test('every object passes its kind\'s OpenAPI schema', async (t) => {
  t.same(
    base.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`),
    [
      'rbac.authorization.k8s.io/v1 ClusterRole ebpf-http-tracer',
      'rbac.authorization.k8s.io/v1 ClusterRoleBinding ebpf-http-tracer',
      'v1 ConfigMap ebpf-http-tracer-config',
      'apps/v1 DaemonSet ebpf-http-tracer',
      'v1 Namespace ebpf-http-tracer',
      'v1 Service ebpf-http-tracer',
      'v1 ServiceAccount ebpf-http-tracer',
    ],
  );
  t.same(
    operator.map((o) => `${o.apiVersion} ${o.kind}`),
    ['monitoring.coreos.com/v1 PrometheusRule', 'monitoring.coreos.com/v1 ServiceMonitor'],
  );
  for (const o of [...base, ...operator]) await t.resolves(validateObject(o), `${o.kind}/${o.metadata.name}`);
});

t.test('a wrong type is refused, naming the field', async (t) => {
  const bad = structuredClone(daemonSet);
  bad.spec.template.spec.containers[0].ports[0].containerPort = '8080';
  await t.rejects(validateObject(bad), { message: 'DaemonSet/ebpf-http-tracer: data/spec/template/spec/containers/0/ports/0/containerPort must be integer' });
  const badCaps = structuredClone(daemonSet);
  badCaps.spec.template.spec.containers[0].securityContext.capabilities.add = 'BPF';
  await t.rejects(validateObject(badCaps), { message: /containers\/0\/securityContext\/capabilities\/add must be array/ });
  const monitor = structuredClone(one('ServiceMonitor', operator)) as any;
  monitor.spec.endpoints[0].interval = 15;
  await t.rejects(validateObject(monitor), { message: /endpoints\/0\/interval must be string/ });
  await t.rejects(validateObject({ apiVersion: 'apps/v1', kind: 'Deamonset', metadata: { name: 'x' } }), { message: 'no schema for apps/v1 Deamonset' });
});

t.test('names, namespace and labels tie the objects together', async (t) => {
  for (const o of [...base, ...operator]) {
    if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) t.equal(o.metadata.namespace, NAMESPACE, `${o.kind} namespace`);
    if (o.kind !== 'Namespace') t.same(o.metadata.labels, LABELS, `${o.kind} labels`);
  }
  t.equal(one('Namespace').metadata.name, NAMESPACE);
  t.same(daemonSet.spec.template.metadata.labels, LABELS, 'pod labels');
  const selector = { 'app.kubernetes.io/name': 'ebpf-http-tracer', 'app.kubernetes.io/instance': 'ebpf-http-tracer' };
  t.same(daemonSet.spec.selector.matchLabels, selector, 'the selector leaves out the version (it changes on upgrade)');
  const service = one('Service') as any;
  t.same(service.spec.selector, selector);
  t.equal(service.spec.clusterIP, 'None', 'headless');
  t.same(service.spec.ports, [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
  t.same(container.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  const monitor = one('ServiceMonitor', operator) as any;
  t.same(monitor.spec.selector.matchLabels, selector);
  t.same([monitor.spec.endpoints[0].port, monitor.spec.endpoints[0].path], ['http', '/metrics']);
  t.equal(pod.serviceAccountName, one('ServiceAccount').metadata.name);
  const binding = one('ClusterRoleBinding') as any;
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: one('ClusterRole').metadata.name });
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: NAMESPACE }]);
  t.same((one('ClusterRole') as any).rules, [{ apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] }], 'read pods and services, nothing else');
  t.equal(pod.volumes.find((v: any) => v.name === 'config').configMap.name, one('ConfigMap').metadata.name);
});

t.test('the DaemonSet: every node, host PID, no privilege beyond the listed capabilities', async (t) => {
  t.same(daemonSet.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
  t.same(
    [pod.hostPID, pod.hostNetwork, pod.dnsPolicy, pod.priorityClassName, pod.tolerations, pod.nodeSelector],
    [true, false, 'ClusterFirst', 'system-node-critical', [{ operator: 'Exists' }], { 'kubernetes.io/os': 'linux' }],
  );
  t.equal(pod.containers.length, 1);
  t.equal(container.image, 'ghcr.io/ebpf-http-tracer/ebpf-http-tracer:0.1.0');
  t.equal(container.command, undefined, 'the image\'s entrypoint (http-tracer)');
  t.same(container.args, ['run', '--config', '/etc/ebpf-http-tracer/config.json']);
  t.same(container.securityContext, {
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsUser: 0,
    capabilities: { drop: ['ALL'], add: ['BPF', 'PERFMON'] },
    seccompProfile: { type: 'Localhost', localhostProfile: 'ebpf-http-tracer.json' },
  });
  t.equal(pod.securityContext, undefined, 'nothing at pod level that would widen the container\'s');
  t.same(container.env, [
    { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    { name: 'HTTP_TRACER_DATA_DIR', value: '/var/lib/ebpf-http-tracer' },
    { name: 'HTTP_TRACER_API_TOKEN', valueFrom: { secretKeyRef: { name: 'ebpf-http-tracer-api-token', key: 'token', optional: true } } },
  ]);
  t.same(container.resources, { requests: { cpu: '100m', memory: '192Mi' }, limits: { memory: '512Mi' } }, 'no CPU limit');
  t.same(
    [container.startupProbe, container.livenessProbe, container.readinessProbe].map((p) => p.httpGet),
    [{ path: '/healthz', port: 'http' }, { path: '/healthz', port: 'http' }, { path: '/readyz', port: 'http' }],
    'started and alive: /healthz; ready: /readyz',
  );
  t.ok(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold >= 60, 'a minute or more to load the programs');
  t.same(pod.volumes, [
    { name: 'config', configMap: { name: 'ebpf-http-tracer-config' } },
    { name: 'tracefs', hostPath: { path: '/sys/kernel/tracing' } },
    { name: 'debugfs', hostPath: { path: '/sys/kernel/debug' } },
    { name: 'cgroup', hostPath: { path: '/sys/fs/cgroup' } },
    { name: 'data', hostPath: { path: '/var/lib/ebpf-http-tracer', type: 'DirectoryOrCreate' } },
    { name: 'tmp', emptyDir: {} },
  ]);
  t.same(container.volumeMounts, [
    { name: 'config', mountPath: '/etc/ebpf-http-tracer', readOnly: true },
    { name: 'tracefs', mountPath: '/sys/kernel/tracing', readOnly: true },
    { name: 'debugfs', mountPath: '/sys/kernel/debug', readOnly: true },
    { name: 'cgroup', mountPath: '/sys/fs/cgroup', readOnly: true },
    { name: 'data', mountPath: '/var/lib/ebpf-http-tracer' },
    { name: 'tmp', mountPath: '/tmp' },
  ], 'only the data directory and /tmp are writable');
});

t.test('deploy/README.md explains every added capability, and the seccomp profile is the one in deploy/seccomp/', async (t) => {
  const readme = fs.readFileSync(path.join(DEPLOY, 'README.md'), 'utf8');
  for (const cap of container.securityContext.capabilities.add as string[]) t.match(readme, new RegExp(`^\\| \`CAP_${cap}\` \\|`, 'm'), cap);
  const profile = path.join(DEPLOY, 'seccomp', container.securityContext.seccompProfile.localhostProfile);
  t.ok(fs.existsSync(profile), `${path.relative(DEPLOY, profile)} exists`);
});

/** The ConfigMap's config.json in a file, as the pod sees it. */
function configFile(t: Test, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'config.json'), text);
  return path.join(dir, 'config.json');
}

/** The container's environment: literal values as they are, the token as a Secret would give it. */
const TOKEN = 'k8s-secret-token-0123456789abcdef';
const podEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? (e.name === 'NODE_NAME' ? 'node-1' : TOKEN)]));

t.test('the ConfigMap\'s config.json passes the agent\'s own checks, and agrees with the pod', async (t) => {
  const text = (one('ConfigMap') as any).data['config.json'] as string;
  const config = loadAnalyticsOptions(configFile(t, text), podEnv());
  t.doesNotThrow(() => resolveEngineOptions({ ...config.options, clockOffsetMs: 0 }, FAMILIES, config.sources), 'engine options');
  t.equal(metricsPathConflict(config.server.metricsPath), undefined);
  t.same(planAlerting(config, podEnv())?.configRules.map((r) => r.name), ['high_error_rate'], "the seed's rule");
  t.equal(planForwarding(config, podEnv()), undefined, 'no forwarding target by default');
  t.same(
    [config.enableAnalytics, config.server.address, config.server.port, config.server.metricsPath, config.data.dir, config.data.source, config.security.token],
    [true, '0.0.0.0', container.ports[0].containerPort, (one('ServiceMonitor', operator) as any).spec.endpoints[0].path, '/var/lib/ebpf-http-tracer', 'HTTP_TRACER_DATA_DIR', TOKEN],
    'listens on every interface, on the container port; data on the hostPath; the token from the Secret',
  );
  t.equal(pod.volumes.find((v: any) => v.name === 'data').hostPath.path, config.data.dir);

  // The same checks refuse a mistake, naming the key.
  t.throws(() => loadAnalyticsOptions(configFile(t, text.replace('"dashboard_port"', '"dashbord_port"')), podEnv()), { message: /output\.analytics\.dashbord_port.*did you mean "dashboard_port"/ });
});
