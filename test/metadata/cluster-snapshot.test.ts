import t from 'tap';
import { ownerOf, podMeta, serviceMeta, type PodObject } from '../../src/metadata/cluster-snapshot';

const ID = 'c'.repeat(64);

t.test('a pod as the shards need it: containers with their ids, IPs, owner', async (t) => {
  const pod: PodObject = {
    metadata: { uid: 'u1', name: 'checkout-5d8f7c9b4-x2x9z', namespace: 'shop', labels: { 'pod-template-hash': '5d8f7c9b4' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'checkout-5d8f7c9b4', controller: true }] },
    spec: { containers: [{ name: 'app' }, { name: 'proxy' }], initContainers: [{ name: 'migrate' }] },
    status: { podIPs: [{ ip: '10.1.0.7' }, { ip: 'fd00::7' }], containerStatuses: [{ name: 'app', containerID: `containerd://${ID}` }, { name: 'proxy' }] },
  };
  t.same(podMeta(pod), {
    uid: 'u1',
    namespace: 'shop',
    name: 'checkout-5d8f7c9b4-x2x9z',
    containers: [{ name: 'app', id: ID }, { name: 'proxy' }, { name: 'migrate' }],
    ips: ['10.1.0.7', 'fd00::7'],
    owner: { kind: 'deployment', name: 'checkout' },
  });
  t.same(podMeta({ ...pod, spec: { ...pod.spec, hostNetwork: true } })?.ips, [], "a hostNetwork pod's IP is the node's: not its name");
  t.equal(podMeta({ metadata: { name: 'x', namespace: 'y' } }), undefined, 'no uid');
});

t.test('owners from the controller reference alone', async (t) => {
  t.same(ownerOf({ 'pod-template-hash': 'abc12' }, [{ kind: 'ReplicaSet', name: 'web-abc12', controller: true }]), { kind: 'deployment', name: 'web' });
  t.equal(ownerOf({}, [{ kind: 'ReplicaSet', name: 'web-abc12', controller: true }]), undefined, 'a ReplicaSet of no Deployment');
  t.same(ownerOf({}, [{ kind: 'StatefulSet', name: 'db', controller: true }]), { kind: 'statefulset', name: 'db' });
  t.same(ownerOf({}, [{ kind: 'DaemonSet', name: 'agent', controller: true }]), { kind: 'daemonset', name: 'agent' });
  t.same(ownerOf({}, [{ kind: 'Job', name: 'backup-28934820', controller: true }]), { kind: 'cronjob', name: 'backup' });
  t.same(ownerOf({}, [{ kind: 'Job', name: 'migrate-v2', controller: true }]), { kind: 'job', name: 'migrate-v2' });
  t.equal(ownerOf({}, [{ kind: 'Rollout', name: 'x', controller: true }]), undefined);
  t.equal(ownerOf({}, []), undefined);
});

t.test("a Service's cluster IPs; a headless Service has none", async (t) => {
  t.same(serviceMeta({ metadata: { name: 'api', namespace: 'shop' }, spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00:96::a'] } }), { namespace: 'shop', name: 'api', clusterIps: ['10.96.0.10', 'fd00:96::a'] });
  t.same(serviceMeta({ metadata: { name: 'db', namespace: 'shop' }, spec: { clusterIP: 'None' } }), { namespace: 'shop', name: 'db', clusterIps: [] });
});
