import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { CgroupPaths } from '../../src/metadata/cgroup-paths';
import type { ClusterSnapshot } from '../../src/metadata/cluster-snapshot';
import { WORKLOAD_LABELS } from '../../src/metadata/workload';
import { ipv4Key, WorkloadResolver } from '../../src/metadata/workload-resolver';

/**
 * A cgroup tree and a /proc of our own (directories in a temporary folder):
 * a cgroup's id is its directory's inode number, as in cgroup2.
 */
function fakeHost(t: Test) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-cgroups-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const mount = path.join(root, 'cgroup');
  const proc = path.join(root, 'proc');
  fs.mkdirSync(mount);
  let nextPid = 100;
  return {
    mount,
    proc,
    /** Makes the cgroup; returns its id. */
    cgroup(p: string): string {
      fs.mkdirSync(path.join(mount, p), { recursive: true });
      return fs.statSync(path.join(mount, p), { bigint: true }).ino.toString();
    },
    /** A process in the cgroup; returns its pid. */
    process(p: string): number {
      const pid = nextPid++;
      fs.mkdirSync(path.join(proc, String(pid)), { recursive: true });
      fs.writeFileSync(path.join(proc, String(pid), 'cgroup'), `0::${p}\n`);
      return pid;
    },
  };
}

const UID = '1b2c3d4e-5f60-4a1b-9c2d-0123456789ab';
const POD_PATH = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice`;
const APP = 'a'.repeat(64);
const SIDECAR = 'b'.repeat(64);
const label = (labels: readonly string[], name: (typeof WORKLOAD_LABELS)[number]) => labels[WORKLOAD_LABELS.indexOf(name)];

const CLUSTER: ClusterSnapshot = {
  pods: [
    {
      uid: UID,
      namespace: 'shop',
      name: 'checkout-5d8f7c9b4-x2x9z',
      containers: [{ name: 'app', id: APP }, { name: 'sidecar' }],
      owner: { kind: 'deployment', name: 'checkout' },
      ips: ['10.1.0.7'],
    },
  ],
  services: [{ namespace: 'shop', name: 'payments', clusterIps: ['10.96.0.20', 'fd00:96::14'] }],
};

t.test('a pod container is its workload: service, namespace, pod, container, deployment', async (t) => {
  const host = fakeHost(t);
  const id = host.cgroup(`${POD_PATH}/cri-containerd-${APP}.scope`);
  const pid = host.process(`${POD_PATH}/cri-containerd-${APP}.scope`);
  const r = new WorkloadResolver(new CgroupPaths({ procRoot: host.proc, mount: host.mount }));
  r.setCluster(CLUSTER);
  const w = r.workloadOf(id, pid);
  t.equal(w.service, 'checkout');
  t.equal(w.source, 'kubernetes');
  t.same(
    WORKLOAD_LABELS.map((l) => label(w.labels, l)),
    ['shop', 'checkout-5d8f7c9b4-x2x9z', 'app', 'checkout', '', '', '', ''],
  );
});

t.test("a container the kubelet has not reported yet: its pod by UID; the container's name only when the pod has one", async (t) => {
  const host = fakeHost(t);
  const id = host.cgroup(`${POD_PATH}/cri-containerd-${SIDECAR}.scope`);
  const r = new WorkloadResolver(new CgroupPaths({ procRoot: host.proc, mount: host.mount }));
  r.setCluster(CLUSTER);
  const w = r.workloadOf(id, host.process(`${POD_PATH}/cri-containerd-${SIDECAR}.scope`));
  t.equal(w.service, 'checkout');
  t.equal(label(w.labels, 'k8s_container_name'), '', 'two containers: which one is not known yet');
  r.setCluster({ ...CLUSTER, pods: [{ ...CLUSTER.pods[0], containers: [{ name: 'app' }] }] });
  t.equal(label(r.workloadOf(id, 1).labels, 'k8s_container_name'), 'app', 'one container: it');
});

t.test('a pod deleted from the cluster is no longer used; an unknown pod is a process', async (t) => {
  const host = fakeHost(t);
  const id = host.cgroup(`${POD_PATH}/cri-containerd-${APP}.scope`);
  const pid = host.process(`${POD_PATH}/cri-containerd-${APP}.scope`);
  const r = new WorkloadResolver(new CgroupPaths({ procRoot: host.proc, mount: host.mount }));
  r.setCluster(CLUSTER);
  t.equal(r.workloadOf(id, pid).service, 'checkout');
  r.setCluster({ pods: [], services: [] });
  t.same([r.workloadOf(id, pid).service, r.workloadOf(id, pid).source], ['', 'process']);
});

t.test('outside Kubernetes: a systemd unit, a Docker container by name; an exited process found by walking the tree', async (t) => {
  const host = fakeHost(t);
  const runtimes = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-runtimes-'));
  t.teardown(() => fs.rmSync(runtimes, { recursive: true, force: true }));
  fs.mkdirSync(path.join(runtimes, 'docker', 'containers', APP), { recursive: true });
  fs.writeFileSync(path.join(runtimes, 'docker', 'containers', APP, 'config.v2.json'), JSON.stringify({ Name: '/web-1', Config: { Labels: { 'com.docker.compose.service': 'web' } } }));
  const unit = host.cgroup('/system.slice/nginx.service');
  const docker = host.cgroup(`/system.slice/docker-${APP}.scope`);
  const other = host.cgroup(`/system.slice/docker-${SIDECAR}.scope`);
  const r = new WorkloadResolver(new CgroupPaths({ procRoot: host.proc, mount: host.mount }), { docker: path.join(runtimes, 'docker'), podman: path.join(runtimes, 'podman') });
  const unitWorkload = r.workloadOf(unit, host.process('/system.slice/nginx.service'));
  t.same([unitWorkload.service, unitWorkload.source], ['nginx', 'systemd']);
  // No /proc entry: the process has exited; the walk finds the cgroup by its inode.
  const dockerWorkload = r.workloadOf(docker, 99_999);
  t.same([dockerWorkload.service, dockerWorkload.source], ['web', 'docker'], "the Compose service's label");
  t.same(r.workloadOf(other, 99_998).source, 'process', 'a container whose name is not readable');
  t.same(dockerWorkload.labels, WORKLOAD_LABELS.map(() => ''));
});

t.test('a pid reused in another cgroup is not trusted: the tree says where the id is', async (t) => {
  const host = fakeHost(t);
  const unit = host.cgroup('/system.slice/api.service');
  host.cgroup('/system.slice/other.service');
  const pid = host.process('/system.slice/other.service');
  const r = new WorkloadResolver(new CgroupPaths({ procRoot: host.proc, mount: host.mount }));
  t.equal(r.workloadOf(unit, pid).service, 'api');
});

t.test('peer names: Services by ClusterIP, pods by their workload; IPv4-mapped and IPv6', async (t) => {
  const r = new WorkloadResolver(new CgroupPaths({ procRoot: '/nonexistent', mount: null }));
  t.equal(r.hasPeers, false);
  r.setCluster(CLUSTER);
  t.equal(r.hasPeers, true);
  t.equal(r.peerNameV4(ipv4Key('10.96.0.20')), 'payments.shop');
  t.equal(r.peerNameV4(ipv4Key('10.1.0.7')), 'checkout.shop');
  t.equal(r.peerNameV4(ipv4Key('10.1.0.8')), '');
  t.equal(r.peerNameText('fd00:96::14'), 'payments.shop');
  t.equal(ipv4Key('::ffff:10.96.0.20'), ipv4Key('10.96.0.20'));
  t.equal(ipv4Key('10.1.0.256'), -1);
  t.equal(ipv4Key('fd00::1'), -1);
});
