/**
 * The agent's image run as the DaemonSet runs it, with podman: the stand-in
 * image (deploy/image/test-image.sh) and the `podman run` arguments read from
 * deploy/kubernetes/daemonset.yaml, so the test and the manifest cannot drift.
 *
 * Machine facts (issue 12): podman needs `--runtime runc` and explicit nofile
 * and nproc ulimits here; there is no CNI, so `--network host` stands in for
 * the pod network (the caller moves the agent's port to a free loopback one).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { packageRoot } from '../../src/package-root';
import { run, type RunResult } from './kernel';

const ROOT = packageRoot(__dirname);
export const DAEMONSET = path.join(ROOT, 'deploy', 'kubernetes', 'daemonset.yaml');
const SECCOMP_DIR = path.join(ROOT, 'deploy', 'seccomp');

/** `podman --runtime runc ARGS`; rejects with podman's stderr unless it exits 0. */
export async function podman(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const r = await run('podman', ['--runtime', 'runc', ...args], timeoutMs);
  if (r.code !== 0) throw new Error(`podman ${args.slice(0, 3).join(' ')} … exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/** Builds the stand-in image as IMAGE (minutes on a cold root filesystem cache, seconds after). */
export async function buildTestImage(image: string): Promise<void> {
  const r = await run(path.join(ROOT, 'deploy', 'image', 'test-image.sh'), [image], 15 * 60_000);
  if (r.code !== 0) throw new Error(`deploy/image/test-image.sh exited ${r.code}: ${r.stderr.trim()}`);
}

/** The missing tools, for the skip reason outside CI. */
export function missingContainerTools(): string[] {
  const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((dir) => fs.existsSync(path.join(dir, cmd)));
  return ['podman', 'runc', 'debootstrap'].filter((cmd) => !onPath(cmd) && !fs.existsSync(`/usr/sbin/${cmd}`));
}

/* Only the manifest fields this mapping reads. */
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { optional?: boolean } };
}
interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}
interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: Record<string, unknown>;
  configMap?: { name: string };
}
interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  runAsUser?: number;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string; localhostProfile?: string };
}
export interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  securityContext?: SecurityContext;
  resources?: { limits?: { memory?: string; cpu?: string } };
  volumeMounts?: VolumeMount[];
}
export interface PodSpec {
  hostPID?: boolean;
  hostNetwork?: boolean;
  securityContext?: SecurityContext;
  containers: Container[];
  volumes?: Volume[];
}

function documents(file: string): { kind?: string; metadata?: { name?: string }; [k: string]: unknown }[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS()).filter((d) => d && typeof d === 'object');
}

/** The DaemonSet's pod spec and its agent container (`tracer`, or the only one). */
export function readDaemonSet(file = DAEMONSET): { pod: PodSpec; container: Container } {
  const ds = documents(file).find((d) => d.kind === 'DaemonSet') as { spec: { template: { spec: PodSpec } } } | undefined;
  if (!ds) throw new Error(`no DaemonSet in ${file}`);
  const pod = ds.spec.template.spec;
  const container = pod.containers.length === 1 ? pod.containers[0] : pod.containers.find((c) => c.name === 'tracer');
  if (!container) throw new Error(`${file}: no container "tracer" among ${pod.containers.map((c) => c.name).join(', ')}`);
  return { pod, container };
}

/** A ConfigMap's data from the manifests next to the DaemonSet. */
function configMapData(name: string, dir: string): Record<string, string> {
  for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
    const cm = documents(path.join(dir, file)).find((d) => d.kind === 'ConfigMap' && d.metadata?.name === name) as { data?: Record<string, string> } | undefined;
    if (cm) return cm.data ?? {};
  }
  throw new Error(`ConfigMap ${name} not found in ${dir}`);
}

/** "512Mi" → "512m" (podman's units are powers of 1024 too). */
function podmanMemory(quantity: string): string {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!m) throw new Error(`memory limit ${quantity}: only whole Ki, Mi, Gi (or bytes) are mapped`);
  return `${m[1]}${{ Ki: 'k', Mi: 'm', Gi: 'g', '': 'b' }[m[2] ?? '']}`;
}

export interface PodmanRun {
  /** `podman run` arguments up to the image. */
  options: string[];
  /** The container's arguments after the image (the manifest's args). */
  args: string[];
  /** The capabilities the manifest adds, upper-case without CAP_. */
  capabilities: string[];
  /** Host directories standing in for the node's own state (DirectoryOrCreate hostPaths), by mount path. */
  stateDirs: Record<string, string>;
  /** What the manifest asks that podman here cannot do exactly, for the log. */
  notes: string[];
}

/**
 * The `podman run` options of the DaemonSet's agent container. Kernel
 * filesystems (tracefs, debugfs, cgroup) are the host's own; a
 * DirectoryOrCreate hostPath (the agent's state on the node) becomes a fresh
 * directory under `scratch`, so a test leaves nothing in the host's
 * /var/lib; the ConfigMap's files are written under `scratch` and mounted
 * where the pod would see them; an emptyDir is a tmpfs. `env` is added last
 * (it wins, as the agent's environment wins over its file).
 */
export function podmanRunOptions(scratch: string, env: Record<string, string>, file = DAEMONSET): PodmanRun {
  const { pod, container } = readDaemonSet(file);
  const sc: SecurityContext = { ...pod.securityContext, ...container.securityContext };
  const notes: string[] = [];
  if (sc.privileged) throw new Error(`${file}: privileged: true (the agent must run with capabilities, never privileged)`);
  const options = ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];
  if (pod.hostPID) options.push('--pid=host');
  // No CNI here: the host's network stands in for the pod's (hostNetwork is false in the manifest).
  options.push('--network=host');
  if (!pod.hostNetwork) notes.push('--network=host stands in for the pod network');

  if (sc.capabilities?.drop?.includes('ALL')) options.push('--cap-drop=ALL');
  else throw new Error(`${file}: capabilities.drop must be [ALL]`);
  const capabilities = sc.capabilities?.add ?? [];
  for (const cap of capabilities) options.push(`--cap-add=${cap}`);
  // podman adds /tmp, /var/tmp and /run tmpfs to a read-only root unless told not to; Kubernetes does not.
  if (sc.readOnlyRootFilesystem) options.push('--read-only', '--read-only-tmpfs=false');
  if (sc.allowPrivilegeEscalation === false) options.push('--security-opt', 'no-new-privileges');
  if (sc.runAsUser !== undefined) options.push(`--user=${sc.runAsUser}`);
  const seccomp = sc.seccompProfile ?? { type: 'RuntimeDefault' };
  if (seccomp.type === 'Localhost') {
    // The kubelet's seccomp root holds a copy of deploy/seccomp/<name>.
    const profile = path.join(SECCOMP_DIR, path.basename(seccomp.localhostProfile ?? ''));
    if (!fs.existsSync(profile)) throw new Error(`${file}: seccomp profile ${seccomp.localhostProfile} is not in deploy/seccomp/`);
    options.push('--security-opt', `seccomp=${profile}`);
  } else if (seccomp.type === 'Unconfined') {
    options.push('--security-opt', 'seccomp=unconfined');
  }
  const memory = container.resources?.limits?.memory;
  if (memory) options.push(`--memory=${podmanMemory(memory)}`);
  if (container.resources?.limits?.cpu) options.push(`--cpus=${container.resources.limits.cpu}`);

  const stateDirs: Record<string, string> = {};
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) throw new Error(`${file}: volumeMount ${mount.name} has no volume`);
    if (mount.subPath) throw new Error(`${file}: volumeMount ${mount.name}: subPath is not mapped`);
    const ro = mount.readOnly ? ':ro' : '';
    if (volume.hostPath) {
      let source = volume.hostPath.path;
      if (volume.hostPath.type === 'DirectoryOrCreate') {
        source = fs.mkdtempSync(path.join(scratch, `${mount.name}-`));
        stateDirs[mount.mountPath] = source;
      }
      options.push('-v', `${source}:${mount.mountPath}${ro}`);
    } else if (volume.emptyDir) {
      options.push('--tmpfs', mount.mountPath);
    } else if (volume.configMap) {
      const dir = fs.mkdtempSync(path.join(scratch, `${mount.name}-`));
      for (const [key, text] of Object.entries(configMapData(volume.configMap.name, path.dirname(file)))) fs.writeFileSync(path.join(dir, key), text);
      // A ConfigMap volume is read-only whatever the mount says.
      options.push('-v', `${dir}:${mount.mountPath}:ro`);
    } else {
      throw new Error(`${file}: volume ${volume.name}: only hostPath, emptyDir and configMap are mapped`);
    }
  }

  for (const v of container.env ?? []) {
    if (v.value !== undefined) options.push('-e', `${v.name}=${v.value}`);
    else if (v.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') options.push('-e', `${v.name}=${os.hostname()}`);
    else if (v.valueFrom?.secretKeyRef?.optional) notes.push(`${v.name}: its optional Secret is absent here`);
    else throw new Error(`${file}: env ${v.name}: only values, spec.nodeName and optional secrets are mapped`);
  }
  for (const [name, value] of Object.entries(env)) options.push('-e', `${name}=${value}`);
  if (container.command) options.push(`--entrypoint=${JSON.stringify(container.command)}`);
  return { options, args: container.args ?? [], capabilities, stateDirs, notes };
}

/** Capability numbers (linux/capability.h) of the names a manifest may use. */
const CAP_NUMBERS: Record<string, number> = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8,
  LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13, IPC_LOCK: 14, IPC_OWNER: 15,
  SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19, SYS_PACCT: 20, SYS_ADMIN: 21, SYS_BOOT: 22, SYS_NICE: 23,
  SYS_RESOURCE: 24, SYS_TIME: 25, SYS_TTY_CONFIG: 26, MKNOD: 27, LEASE: 28, AUDIT_WRITE: 29, AUDIT_CONTROL: 30, SETFCAP: 31,
  MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34, WAKE_ALARM: 35, BLOCK_SUSPEND: 36, AUDIT_READ: 37, PERFMON: 38, BPF: 39,
  CHECKPOINT_RESTORE: 40,
};

/** The names of the capabilities in a /proc/PID/status mask ("000000c000000000"). */
export function capabilityNames(hexMask: string): string[] {
  const mask = BigInt(`0x${hexMask}`);
  return Object.entries(CAP_NUMBERS)
    .filter(([, n]) => (mask >> BigInt(n)) & 1n)
    .map(([name]) => name)
    .sort();
}

/** /proc/PID/status as name → value. */
export function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
  );
}

/** The mount options ("ro", "rw", …) of each mount point a process sees, from /proc/PID/mountinfo. */
export function mountOptions(pid: number): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter(Boolean)) {
    const f = line.split(' ');
    out.set(f[4], f[5].split(','));
  }
  return out;
}
