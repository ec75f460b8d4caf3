import t from 'tap';
import { cgroupFacts, statusContainerId } from '../../src/metadata/cgroup-path';

const ID = 'a'.repeat(56) + '0123abcd';

t.test('container ids, runtimes and pod UIDs from the paths each runtime makes', async (t) => {
  t.same(cgroupFacts(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_4a1b_9c2d_0123456789ab.slice/cri-containerd-${ID}.scope`), {
    containerId: ID,
    runtime: 'containerd',
    podUid: '1b2c3d4e-5f60-4a1b-9c2d-0123456789ab',
  });
  t.same(cgroupFacts(`/kubepods/besteffort/pod1b2c3d4e-5f60-4a1b-9c2d-0123456789ab/${ID}`), { containerId: ID, runtime: 'unknown', podUid: '1b2c3d4e-5f60-4a1b-9c2d-0123456789ab' }, 'cgroupfs driver');
  t.same(cgroupFacts(`/kubepods.slice/kubepods-pod1b2c3d4e_5f60_4a1b_9c2d_0123456789ab.slice/crio-${ID}.scope`), { containerId: ID, runtime: 'cri-o', podUid: '1b2c3d4e-5f60-4a1b-9c2d-0123456789ab' });
  t.same(cgroupFacts(`/system.slice/docker-${ID}.scope`), { containerId: ID, runtime: 'docker' });
  t.same(cgroupFacts(`/docker/${ID}`), { containerId: ID, runtime: 'docker' });
  t.same(cgroupFacts(`/machine.slice/libpod-${ID}.scope`), { containerId: ID, runtime: 'podman' });
  t.same(cgroupFacts(`/machine.slice/libpod-${ID}.scope/container`), { containerId: ID, runtime: 'podman' }, 'a scope nested in the container');
  t.same(cgroupFacts(`/machine.slice/libpod-conmon-${ID}.scope`), {}, 'the monitor is not the container');
  t.same(cgroupFacts(`/../../kubepods.slice/kubepods-pod1b2c3d4e_5f60_4a1b_9c2d_0123456789ab.slice/cri-containerd-${ID}.scope`).podUid, '1b2c3d4e-5f60-4a1b-9c2d-0123456789ab', 'seen from a cgroup namespace');
});

t.test('systemd units outside containers; nothing from other paths', async (t) => {
  t.same(cgroupFacts('/system.slice/nginx.service'), { systemdUnit: 'nginx' });
  t.same(cgroupFacts('/system.slice/system-getty.slice/getty@tty1.service'), { systemdUnit: 'getty@tty1' });
  t.same(cgroupFacts('/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service'), { systemdUnit: 'dbus' });
  t.same(cgroupFacts('/user.slice/user-1000.slice/user@1000.service/app.slice/vte-spawn-1.scope'), {}, "a user's manager is not a service");
  t.same(cgroupFacts('/user.slice/user-0.slice/session-3.scope'), {});
  t.same(cgroupFacts('/'), {});
  t.same(cgroupFacts(`/system.slice/docker-${ID.slice(1)}.scope`), {}, 'an id of 63 digits is no id');
});

t.test("a pod status's container ids", async (t) => {
  t.equal(statusContainerId(`containerd://${ID}`), ID);
  t.equal(statusContainerId(`cri-o://${ID}`), ID);
  t.equal(statusContainerId(`docker://${ID}`), ID);
  t.equal(statusContainerId(undefined), undefined);
  t.equal(statusContainerId(ID), undefined, 'no scheme');
});
