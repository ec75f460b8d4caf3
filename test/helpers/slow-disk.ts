/**
 * A disk whose flushes stall: test/fixtures/slow-fsync-fs.c (a FUSE
 * passthrough whose fsync and fdatasync of a file, and fsync of a directory,
 * sleep a fixed delay first) mounted on a fresh directory, with the log of the
 * flushes it served. Reads, writes and renames of other files go on while a
 * flush sleeps; a write to the file being flushed, or a create in the
 * directory being flushed, waits for it (FUSE holds that inode's lock; ext4
 * does not: give directories a delay of 0 to see only the files' stall). Needs root, /dev/fuse and libfuse3's headers; locally the tests skip
 * without them, under CI=true they run and fail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { FIXTURES, fileSkipReason, run, sleep } from './kernel';

const SOURCE = path.join(FIXTURES, 'slow-fsync-fs.c');
const FUSE_HEADER = '/usr/include/fuse3/fuse.h';
const MOUNT_TIMEOUT_MS = 10_000;
const TERM_GRACE_MS = 3000;

export function slowDiskSkipReason(): string | false {
  if (process.env.CI === 'true') return false;
  if (process.geteuid?.() !== 0) return 'needs root to mount a FUSE file system (run as root, or under CI=true)';
  return fileSkipReason('/dev/fuse', 'the fuse kernel module') || fileSkipReason(FUSE_HEADER, 'apt-get install fuse3 libfuse3-dev, or bash scripts/setup.sh --test as root');
}

/** One flush the file system served, from its log. */
export interface SyncCall {
  op: 'fsync' | 'fdatasync' | 'fsyncdir';
  /** The path in the mount, from "/" ("/" itself for the root directory). */
  path: string;
  /** CLOCK_REALTIME ms (comparable with Date.now()): when the request arrived, and when the real flush was done. */
  startMs: number;
  endMs: number;
}

export interface SlowDisk {
  /** The mount point. */
  dir: string;
  /** The flushes served so far, in the order they finished; readable until unmount. */
  syncs(): SyncCall[];
  /** Unmounts, stops the daemon and removes the directories; again is a no-op. */
  unmount(): Promise<void>;
}

let compiled: Promise<string> | undefined;

/** The fixture, compiled once per process into its own temporary directory. */
function fixtureBinary(): Promise<string> {
  compiled ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slow-fsync-fs-bin-'));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    const binary = path.join(dir, 'slow-fsync-fs');
    // The flags pkg-config gives for fuse3 on Debian; the header's path is what slowDiskSkipReason checks.
    const r = await run('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-I/usr/include/fuse3', '-o', binary, SOURCE, '-lfuse3', '-lpthread']);
    if (r.code !== 0) throw new Error(`gcc ${SOURCE} failed (${r.code}): ${r.stderr}`);
    return binary;
  })();
  return compiled;
}

/** The fstype of the mount at mountPoint, from /proc/self/mountinfo; undefined when nothing is mounted there. */
function mountedFsType(mountPoint: string): string | undefined {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'latin1').split('\n')) {
    // "49 27 0:42 / /tmp/x/mnt rw,nosuid,nodev,relatime - fuse.slow-fsync-fs slow-fsync-fs rw,..."
    const [before, after] = line.split(' - ');
    const where = before.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    if (where === mountPoint && after) return after.split(' ')[0];
  }
  return undefined;
}

function isMounted(mountPoint: string): boolean {
  return mountedFsType(mountPoint) !== undefined;
}

const SYNC_OPS: readonly string[] = ['fsync', 'fdatasync', 'fsyncdir'] satisfies SyncCall['op'][];

function parseSyncLog(log: string): SyncCall[] {
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      // "<op> <path> <start_ms> <end_ms>"; the path may hold spaces.
      const fields = line.split(' ');
      const endMs = Number(fields.pop());
      const startMs = Number(fields.pop());
      const [op, ...rest] = fields;
      if (!SYNC_OPS.includes(op) || rest.length === 0 || !Number.isInteger(startMs) || !Number.isInteger(endMs)) {
        throw new Error(`${log}: not a flush: ${JSON.stringify(line)}`);
      }
      return { op: op as SyncCall['op'], path: rest.join(' '), startMs, endMs };
    });
}

/** Mounts that teardown never reached: detached when the test process exits, so no dead FUSE mount outlives it. */
const live = new Map<string, ChildProcess>();
process.on('exit', () => {
  for (const [mountPoint, daemon] of live) {
    spawnSync('umount', ['-l', mountPoint]);
    daemon.kill('SIGKILL');
  }
});

/**
 * Mounts a fresh slow disk whose file flushes each take fsyncDelayMs before
 * the real one, and directory flushes dirFsyncDelayMs; unmounted at the end
 * of the test t.
 */
export async function mountSlowDisk(t: Pick<Test, 'teardown'>, fsyncDelayMs: number, dirFsyncDelayMs = fsyncDelayMs): Promise<SlowDisk> {
  const binary = await fixtureBinary();
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'slow-disk-')));
  const backing = path.join(root, 'backing');
  const dir = path.join(root, 'mnt');
  const log = path.join(root, 'syncs.log');
  fs.mkdirSync(backing);
  fs.mkdirSync(dir);

  const daemon = spawn(binary, [backing, String(fsyncDelayMs), String(dirFsyncDelayMs), log, dir, '-f'], { stdio: ['ignore', 'ignore', 'pipe'] });
  live.set(dir, daemon);
  let stderr = '';
  daemon.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  let unmounting: Promise<void> | undefined;
  const unmount = (): Promise<void> =>
    (unmounting ??= (async () => {
      if (isMounted(dir)) {
        const r = await run('umount', [dir]);
        // Busy (a file still open in it): detach it now; the daemon exits once the last user is gone.
        if (r.code !== 0 && isMounted(dir)) {
          const lazy = await run('umount', ['-l', dir]);
          if (lazy.code !== 0 && isMounted(dir)) throw new Error(`cannot unmount ${dir}: ${r.stderr.trim()}; ${lazy.stderr.trim()}`);
        }
      }
      if (!gone) {
        daemon.kill('SIGTERM');
        const killer = setTimeout(() => daemon.kill('SIGKILL'), TERM_GRACE_MS);
        await exited;
        clearTimeout(killer);
      }
      live.delete(dir);
      fs.rmSync(root, { recursive: true, force: true });
    })());
  t.teardown(unmount);

  const deadline = Date.now() + MOUNT_TIMEOUT_MS;
  for (;;) {
    const fsType = mountedFsType(dir);
    if (fsType?.startsWith('fuse.')) break;
    if (gone || Date.now() > deadline) {
      const why = gone ? `exited (${daemon.exitCode ?? daemon.signalCode})` : `was not mounted after ${MOUNT_TIMEOUT_MS} ms`;
      await unmount();
      throw new Error(`slow-fsync-fs on ${dir} ${why}; it said: ${stderr.trim()}`);
    }
    await sleep(20);
  }

  return { dir, syncs: () => parseSyncLog(log), unmount };
}
