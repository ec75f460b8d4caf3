/**
 * Kubernetes identity end to end: a fake API server (the real API's list and
 * watch shapes) knows two pods whose containers are real processes in real
 * cgroups made by the test (the paths containerd makes under kubepods), and
 * a Service whose ClusterIP the client dials. The agent, pointed at the API
 * with HTTP_TRACER_KUBECONFIG, names every exchange by namespace, pod,
 * container and owner, names the client's peer by the Service, and stops
 * using a pod once the watch deletes it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cgroup2Mount } from '../../src/metadata/cgroup-paths';
import { parseExposition, samplesWith, sumOf } from '../helpers/exposition';
import { fakeKubeApi } from '../helpers/fake-kube-api';
import { agentProcess, FIXTURES, freePort, kernelSkipReason, stopChild, until, waitForPort } from '../helpers/kernel';

const NODE = 'node-a';
const SERVER_UID = '5c1d2e3f-0a1b-4c2d-8e3f-000000000001';
const CLIENT_UID = '5c1d2e3f-0a1b-4c2d-8e3f-000000000002';
const SERVER_ID = '1'.repeat(60) + 'aaaa';
const CLIENT_ID = '2'.repeat(60) + 'bbbb';
/** The Service's ClusterIP: a loopback address of its own, so only the client's calls go to it. */
const SERVICE_IP = '127.0.0.2';

/** The cgroup containerd makes for a pod's container (systemd driver). */
const containerCgroup = (podUid: string, id: string): string =>
  `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUid.replaceAll('-', '_')}.slice/cri-containerd-${id}.scope`;

/** Runs `node script args` as a process that first moves itself into the cgroup. */
function inCgroup(mount: string, cgroup: string, script: string, args: string[]): ChildProcess {
  const procs = path.join(mount, cgroup, 'cgroup.procs');
  return spawn('/bin/sh', ['-c', `echo $$ > "$0" && exec "$1" "$2" "$3" "$4"`, procs, process.execPath, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function runClient(mount: string, port: number, requests: number): Promise<number[]> {
  const plan = { port, host: SERVICE_IP, keepAlive: true, requests: Array.from({ length: requests }, () => ({ method: 'GET', path: '/hello' })) };
  const child = inCgroup(mount, containerCgroup(CLIENT_UID, CLIENT_ID), path.join(FIXTURES, 'node-client.js'), [JSON.stringify(plan)]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`client exited ${code}: ${err}`);
  return (JSON.parse(out) as { status: number }[]).map((r) => r.status);
}

const pod = (uid: string, namespace: string, name: string, owner: Record<string, unknown>, labels: Record<string, string>, containers: string[], statuses: Record<string, string>) => ({
  metadata: { uid, namespace, name, labels, ownerReferences: [{ apiVersion: 'apps/v1', controller: true, ...owner }] },
  spec: { nodeName: NODE, containers: containers.map((c) => ({ name: c, image: 'example' })) },
  status: {
    phase: 'Running',
    podIP: '10.244.0.9',
    podIPs: [{ ip: '10.244.0.9' }],
    containerStatuses: Object.entries(statuses).map(([name, id]) => ({ name, containerID: `containerd://${id}`, ready: true })),
  },
});

t.test('exchanges carry the namespace, pod, container and owner of their cgroup; a deleted pod stops being used', { skip: kernelSkipReason() }, async (t) => {
  t.setTimeout(120_000);
  const mount = cgroup2Mount();
  if (!mount) throw new Error('no cgroup2 file system is mounted (/proc/self/mountinfo)');
  for (const [uid, id] of [[SERVER_UID, SERVER_ID], [CLIENT_UID, CLIENT_ID]]) {
    const dir = path.join(mount, containerCgroup(uid, id));
    fs.mkdirSync(dir, { recursive: true });
    t.teardown(() => {
      // Leaf first: a cgroup is removed once it holds no process and no child.
      for (let d = dir; d !== mount; d = path.dirname(d)) {
        try {
          fs.rmdirSync(d);
        } catch {
          break;
        }
      }
    });
  }

  const api = await fakeKubeApi();
  t.teardown(() => api.close());
  api.setPod(pod(SERVER_UID, 'shop', 'checkout-7f9c6d5b8-abcde', { kind: 'ReplicaSet', name: 'checkout-7f9c6d5b8' }, { 'pod-template-hash': '7f9c6d5b8' }, ['app', 'proxy'], { app: SERVER_ID }));
  api.setPod(pod(CLIENT_UID, 'web', 'frontend-0', { kind: 'StatefulSet', name: 'frontend' }, {}, ['ui'], { ui: CLIENT_ID }));
  api.setService({ metadata: { namespace: 'shop', name: 'checkout' }, spec: { clusterIP: SERVICE_IP, clusterIPs: [SERVICE_IP], ports: [{ port: 80 }] } });

  const port = await freePort(SERVICE_IP);
  const server = inCgroup(mount, containerCgroup(SERVER_UID, SERVER_ID), path.join(FIXTURES, 'node-server.js'), [String(port), SERVICE_IP]);
  t.teardown(() => stopChild(server));
  await waitForPort(port, SERVICE_IP);

  const agent = await agentProcess('run', [], await freePort(), { HTTP_TRACER_KUBECONFIG: api.kubeconfig, NODE_NAME: NODE });
  t.teardown(() => stopChild(agent.child));
  const health = async () => (await (await fetch(`${agent.url}/api/health`)).json()) as { metadata: { source: string; pods: number; services: number; synced: boolean; node: string } };
  const synced = await until('the agent has listed the pods and services', async () => {
    const h = await health();
    return h.metadata.synced && h.metadata.pods === 2 ? h : undefined;
  }, 20_000).catch(async (e: Error) => {
    throw new Error(`${e.message}; health: ${JSON.stringify((await health()).metadata)}; requests: ${api.requests.join(' ')}; the agent said: ${agent.stderr()}`);
  });
  t.same(synced.metadata, { ...synced.metadata, source: 'kubernetes', node: NODE, pods: 2, services: 1, synced: true });
  t.ok(api.requests.some((r) => r.startsWith('/api/v1/pods?') && new URL(r, 'http://x').searchParams.get('fieldSelector') === `spec.nodeName=${NODE}`), 'pods are listed for this node only');
  t.match(agent.stderr(), /kubernetes: watching 2 pods on node node-a and 1 services/);

  t.same(await runClient(mount, port, 12), new Array(12).fill(200));
  const scrape = async () => parseExposition(await (await fetch(`${agent.url}/metrics`)).text());
  const serverLabels = {
    service_name: 'checkout',
    k8s_namespace_name: 'shop',
    k8s_pod_name: 'checkout-7f9c6d5b8-abcde',
    k8s_container_name: 'app',
    k8s_deployment_name: 'checkout',
    server_port: String(port),
  };
  const clientLabels = {
    service_name: 'frontend',
    k8s_namespace_name: 'web',
    k8s_pod_name: 'frontend-0',
    k8s_container_name: 'ui',
    k8s_statefulset_name: 'frontend',
    server_address: 'checkout.shop',
  };
  let samples = await until('12 exchanges on each side', async () => {
    const s = await scrape();
    return sumOf(s, 'http_server_request_duration_seconds_count', { server_port: String(port) }) === 12 && sumOf(s, 'http_client_request_duration_seconds_count', { server_port: String(port) }) === 12 ? s : undefined;
  }, 15_000);
  const server12 = samplesWith(samples, 'http_server_request_duration_seconds_count', { server_port: String(port) });
  t.equal(server12.length, 1, 'one server series');
  t.same(server12[0].labels, { ...serverLabels, http_request_method: 'GET', http_route: '/hello', http_response_status_code: '200', url_scheme: 'http' }, 'the server side: exactly its pod\'s labels');
  const client12 = samplesWith(samples, 'http_client_request_duration_seconds_count', { server_port: String(port) });
  t.equal(client12.length, 1, 'one client series');
  t.same(client12[0].labels, { ...clientLabels, server_port: String(port), http_request_method: 'GET', http_route: '/hello', http_response_status_code: '200', url_scheme: 'http' }, "the client side: its pod's labels and the Service it called");
  t.equal(sumOf(samples, 'http_requests_total', { service: 'checkout', side: 'server', k8s_namespace_name: 'shop', k8s_pod_name: 'checkout-7f9c6d5b8-abcde', k8s_deployment_name: 'checkout' }), 12, "the seed's family carries the same k8s labels");

  // The server's pod leaves the watch: its exchanges are the process's again.
  api.deletePod('shop', 'checkout-7f9c6d5b8-abcde');
  await until('the agent has seen the deletion', async () => ((await health()).metadata.pods === 1 ? true : undefined), 10_000);
  t.same(await runClient(mount, port, 5), new Array(5).fill(200));
  samples = await until('5 more exchanges on each side', async () => {
    const s = await scrape();
    return sumOf(s, 'http_server_request_duration_seconds_count', { server_port: String(port) }) === 17 && sumOf(s, 'http_client_request_duration_seconds_count', { server_port: String(port) }) === 17 ? s : undefined;
  }, 15_000);
  t.equal(sumOf(samples, 'http_server_request_duration_seconds_count', serverLabels), 12, 'the deleted pod keeps what it had, and gets no more');
  const after = samplesWith(samples, 'http_server_request_duration_seconds_count', { service_name: `node:${port}` });
  t.same(after.map((s) => [s.value, s.labels.k8s_namespace_name, s.labels.k8s_pod_name]), [[5, undefined, undefined]], 'named by its process now, with no k8s labels');
  t.equal(sumOf(samples, 'http_client_request_duration_seconds_count', clientLabels), 17, 'the client pod is still known');
});
