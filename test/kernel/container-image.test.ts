/**
 * The image really runs with the DaemonSet's privileges (issue 12): the
 * stand-in for deploy/Dockerfile's image (a debootstrapped bookworm root with
 * the runtime stage's packages, Node 20, and deploy/image/install.sh's
 * install), run by podman with exactly what deploy/kubernetes/daemonset.yaml
 * asks (capabilities, host PID namespace, read-only root, no new privileges,
 * the seccomp profile from deploy/seccomp/, the mounts, the env, the memory
 * limit, the args), captures real traffic on the host and counts it exactly.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { DATABASE_FILE } from '../../src/storage/database';
import { buildTestImage, capabilityNames, missingContainerTools, mountOptions, podman, podmanRunOptions, procStatus, readDaemonSet } from '../helpers/container';
import { parseExposition, sumOf } from '../helpers/exposition';
import { freePort, kernelSkipReason, nodeClient, nodeServer, stopChild, until, type PlannedRequest } from '../helpers/kernel';

const REQUESTS = 40;

function skipReason(): string | false {
  const kernel = kernelSkipReason();
  if (kernel || process.env.CI === 'true') return kernel;
  const missing = missingContainerTools();
  return missing.length > 0 ? `needs ${missing.join(', ')} (bash scripts/setup.sh installs them)` : false;
}

interface Health {
  status: string;
  probes: { attached: number; total: number };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

// On a cold root filesystem cache (deploy/image/test-image.sh) a debootstrap runs first, a
// minute or more with a slow mirror; later runs take about 30 s. Longer than the per-file default.
t.setTimeout(20 * 60_000);

t.test('the image runs with the DaemonSet privileges and counts host traffic exactly', { skip: skipReason() }, async (t) => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'container-image-'));
  const image = `localhost/ebpf-http-tracer-test-${process.pid}`;
  const name = `ebpf-http-tracer-test-${process.pid}`;
  t.teardown(async () => {
    await podman(['rm', '-f', '-t', '5', name]).catch(() => undefined);
    await podman(['image', 'rm', '-f', image]).catch(() => undefined);
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  const { pod, container } = readDaemonSet();
  const seccomp = container.securityContext?.seccompProfile ?? pod.securityContext?.seccompProfile;
  t.equal(seccomp?.type, 'Localhost', 'the manifest uses the seccomp profile from deploy/, not Unconfined');
  t.equal(pod.hostPID, true, 'hostPID: the pids the kernel reports are the ones /proc shows');

  await buildTestImage(image);

  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  t.teardown(() => stopChild(server));
  // Host network stands in for the pod network: the agent's port moves to a free loopback one.
  const agentPort = await freePort();
  const api = `http://127.0.0.1:${agentPort}`;
  const spec = podmanRunOptions(scratch, { HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(agentPort), HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '127.0.0.1' });
  t.comment(`podman run ${spec.options.join(' ')} ${image} ${spec.args.join(' ')}${spec.notes.length ? `\n${spec.notes.join('; ')}` : ''}`);
  await podman(['run', '-d', '--name', name, ...spec.options, image, ...spec.args]);

  const logs = async () => (await podman(['logs', name]).catch((e: Error) => ({ stdout: '', stderr: e.message }))).stderr;
  const health = await until(
    'the agent in the container to report healthy with every probe attached',
    async () => {
      const state = (await podman(['inspect', '--format', '{{.State.Status}}', name])).stdout.trim();
      if (state !== 'running') throw new Error(`container ${state}; it said: ${await logs()}`);
      const h = await getJson<Health>(`${api}/api/health`);
      return h.status === 'healthy' && h.probes.attached === h.probes.total ? h : undefined;
    },
    60_000,
  ).catch(async (e: Error) => {
    throw new Error(`${e.message}\ncontainer log:\n${await logs()}`);
  });
  t.ok(health.probes.total > 0, `${health.probes.attached}/${health.probes.total} probes attached`);

  // The agent process as the host sees it (hostPID: its pid is the host's).
  const pid = Number((await podman(['inspect', '--format', '{{.State.Pid}}', name])).stdout.trim());
  const status = procStatus(pid);
  t.equal(status.Name, 'node', 'the container process is the agent itself (no shell)');
  // The manifest's capabilities, less any this host cannot grant at all (podman leaves those out).
  const grantable = new Set(capabilityNames(procStatus(process.pid).CapBnd));
  const expected = spec.capabilities.filter((c) => grantable.has(c)).sort();
  t.same(capabilityNames(status.CapEff), expected, `effective capabilities: exactly the manifest's${expected.length < spec.capabilities.length ? ` (${spec.capabilities.filter((c) => !grantable.has(c)).join(', ')} not grantable on this host)` : ''}`);
  t.same(capabilityNames(status.CapBnd), expected, 'bounding set: nothing else can ever be gained');
  t.equal(status.CapAmb, '0000000000000000', 'no ambient capabilities');
  t.equal(status.NoNewPrivs, '1', 'allowPrivilegeEscalation: false');
  t.equal(status.Seccomp, '2', 'a seccomp filter is in force');

  const mounts = mountOptions(pid);
  t.ok(mounts.get('/')?.includes('ro'), `the root filesystem is mounted read-only (${mounts.get('/')?.join(',')})`);
  for (const m of container.volumeMounts ?? []) {
    const opts = mounts.get(m.mountPath);
    t.ok(opts, `${m.mountPath} is mounted`);
    const volume = pod.volumes?.find((v) => v.name === m.name);
    const ro = m.readOnly === true || volume?.configMap !== undefined;
    t.ok(opts?.includes(ro ? 'ro' : 'rw'), `${m.mountPath} is ${ro ? 'read-only' : 'writable'} (${opts?.join(',')})`);
  }
  // And really so, from inside: writes where the pod may write, EROFS elsewhere.
  const dataDir = Object.keys(spec.stateDirs).find((p) => p === '/var/lib/ebpf-http-tracer');
  t.ok(dataDir, 'the data directory is a hostPath on the node');
  const targets = ['/', '/opt/ebpf-http-tracer', '/etc/ebpf-http-tracer', '/tmp', dataDir!];
  const probe = `const fs=require('fs');const out={};for(const d of ${JSON.stringify(targets)}){try{fs.writeFileSync(d+'/.write-probe','');fs.unlinkSync(d+'/.write-probe');out[d]='ok'}catch(e){out[d]=e.code}}console.log(JSON.stringify(out))`;
  const writes = JSON.parse((await podman(['exec', name, 'node', '-e', probe])).stdout) as Record<string, string>;
  t.same(writes, { '/': 'EROFS', '/opt/ebpf-http-tracer': 'EROFS', '/etc/ebpf-http-tracer': 'EROFS', '/tmp': 'ok', [dataDir!]: 'ok' }, 'writable: the emptyDir and the data directory only');
  t.ok(fs.existsSync(path.join(spec.stateDirs[dataDir!], DATABASE_FILE)), "the agent's database is in the hostPath data directory");

  // Real traffic on the host; the container must see all of it and nothing more.
  const plan: PlannedRequest[] = Array.from({ length: REQUESTS }, (_, i) => ({ method: 'GET', path: `/hello?n=${i}` }));
  const results = await nodeClient(serverPort, true, plan);
  t.equal(results.filter((r) => r.status === 200).length, REQUESTS, 'the client got every answer');

  const port = String(serverPort);
  const requests = await until(
    `/metrics to count ${REQUESTS} exchanges on port ${port}, both sides`,
    async () => {
      const all = parseExposition(await (await fetch(`${api}/metrics`)).text());
      return sumOf(all, 'http_requests_total', { side: 'server', server_port: port }) >= REQUESTS && sumOf(all, 'http_requests_total', { side: 'client', server_port: port }) >= REQUESTS ? all : undefined;
    },
    30_000,
  );
  t.equal(sumOf(requests, 'http_requests_total', { side: 'server', server_port: port }), REQUESTS, '/metrics: the server side, exactly');
  t.equal(sumOf(requests, 'http_requests_total', { side: 'client', server_port: port }), REQUESTS, '/metrics: the client side, exactly');
  const services = [...new Set(requests.filter((s) => s.name === 'http_requests_total' && s.labels.side === 'server' && s.labels.server_port === port).map((s) => s.labels.service))];
  t.equal(services.length, 1, `one service answers on port ${port}: ${services.join(', ')}`);

  const m = await until(
    `/api/metrics to count the ${REQUESTS} requests of ${services[0]}`,
    async () => {
      const v = await getJson<{ totals: { requests: number; errors: number } }>(`${api}/api/metrics?window=1m&side=server&service=${encodeURIComponent(services[0])}`);
      return v.totals.requests >= REQUESTS ? v : undefined;
    },
    30_000,
  );
  t.match(m.totals, { requests: REQUESTS, errors: 0 }, '/api/metrics: every request, exactly, no errors');
  const lost = await getJson<{ lost: { total: number } }>(`${api}/api/health`);
  t.equal(lost.lost.total, 0, 'nothing lost in the kernel');
});
