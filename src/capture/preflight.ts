/**
 * What the machine must offer before capture can work: a kernel with BTF,
 * tracefs (mounted here when missing and we are root), and the privileges to
 * load BPF. Each check says what is wrong and how to fix it.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { Addon } from './addon';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** How to fix it, when not ok. */
  fix?: string;
}

export const BTF_PATH = '/sys/kernel/btf/vmlinux';
export const TRACEFS_PATH = '/sys/kernel/tracing';
const DEBUGFS_TRACING_PATH = '/sys/kernel/debug/tracing';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

export function checkKernel(): CheckResult {
  const release = os.release();
  const [major, minor] = release.split('.').map((n) => parseInt(n, 10));
  // bpf_loop (5.17) and BPF_PROG_TEST_RUN for raw tracepoints are the newest features used.
  const ok = major > 5 || (major === 5 && minor >= 17);
  return {
    name: 'kernel',
    ok,
    detail: `Linux ${release}`,
    fix: ok ? undefined : 'Linux 5.17 or newer is required (bpf_loop, ring buffer)',
  };
}

export function checkBtf(): CheckResult {
  const ok = fs.existsSync(BTF_PATH);
  return {
    name: 'btf',
    ok,
    detail: ok ? `${BTF_PATH} (${fs.statSync(BTF_PATH).size} bytes)` : `${BTF_PATH} missing`,
    fix: ok ? undefined : 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels are)',
  };
}

function effectiveCapabilities(): bigint {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const line = status.split('\n').find((l) => l.startsWith('CapEff:'));
  return line ? BigInt(`0x${line.slice(7).trim()}`) : 0n;
}

function hasCapability(caps: bigint, cap: bigint): boolean {
  return (caps & (1n << cap)) !== 0n;
}

export function checkPrivileges(): CheckResult {
  const caps = effectiveCapabilities();
  const root = process.geteuid?.() === 0;
  const bpf = hasCapability(caps, CAP_BPF) || hasCapability(caps, CAP_SYS_ADMIN);
  const perfmon = hasCapability(caps, CAP_PERFMON) || hasCapability(caps, CAP_SYS_ADMIN);
  const ok = bpf && perfmon;
  return {
    name: 'privileges',
    ok,
    detail: `${root ? 'root' : `uid ${process.geteuid?.()}`}, CAP_BPF ${bpf ? 'yes' : 'no'}, CAP_PERFMON ${perfmon ? 'yes' : 'no'}`,
    fix: ok ? undefined : 'run as root (sudo), or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE',
  };
}

/** Where tracefs is mounted, from /proc/self/mounts (readable by anyone, unlike tracefs). */
function tracefsMounts(): string[] {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[2] === 'tracefs')
    .map((f) => f[1]);
}

/** tracefs with the syscall tracepoints; mounted at /sys/kernel/tracing when missing and allowed. */
export function ensureTracefs(addon: Addon): CheckResult {
  const name = 'tracefs';
  const mounted = tracefsMounts().filter((dir) => dir === TRACEFS_PATH || dir === DEBUGFS_TRACING_PATH);
  for (const dir of mounted) {
    if (fs.existsSync(`${dir}/events`)) return { name, ok: true, detail: `${dir} mounted` };
  }
  if (mounted.length > 0) {
    return { name, ok: false, detail: `${mounted[0]} mounted but not readable by uid ${process.geteuid?.()}`, fix: 'run as root (sudo)' };
  }
  try {
    addon.mountTracefs(TRACEFS_PATH);
    return { name, ok: true, detail: `${TRACEFS_PATH} mounted by the agent` };
  } catch (err) {
    return {
      name,
      ok: false,
      detail: `not mounted; ${(err as Error).message}`,
      fix: `mount it: mount -t tracefs tracefs ${TRACEFS_PATH} (as root)`,
    };
  }
}

export function preflight(addon: Addon): CheckResult[] {
  return [checkKernel(), checkBtf(), checkPrivileges(), ensureTracefs(addon)];
}
