/**
 * The cgroup v2 path of a cgroup id (the id the kernel records per exchange:
 * the inode number of the cgroup's directory in the cgroup2 file system).
 *
 *   /proc/<tgid>/cgroup "0::<path>"    while the process lives, if its cgroup is still that id
 *   a walk of the cgroup2 mount       otherwise (the process has exited: a short-lived client),
 *                                     matching directory inode numbers; at most once per
 *                                     WALK_INTERVAL_MS, so a stream of unknown ids costs one walk
 *
 * Answers are cached (bounded). A cgroup that is not found stays unknown
 * until the next walk.
 */
import fs from 'node:fs';
import path from 'node:path';

const MAX_CACHED = 16_384;
const WALK_INTERVAL_MS = 2_000;
/** A node's cgroup tree has hundreds of directories; a runaway tree stops the walk here. */
const MAX_WALK_DIRECTORIES = 100_000;

export class CgroupPaths {
  private readonly cache = new Map<string, string>();
  private readonly mount: string | undefined;
  private readonly procRoot: string;
  private readonly nowMs: () => number;
  private lastWalkMs = -Infinity;

  /** `mount`: where the cgroup2 file system is mounted; default: found in /proc/self/mountinfo. */
  constructor(options: { procRoot?: string; mount?: string | null; nowMs?: () => number } = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.mount = options.mount === null ? undefined : (options.mount ?? cgroup2Mount(this.procRoot));
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** The path ("/system.slice/x.service"), or undefined when the id is not found. */
  pathOf(cgroupId: string, tgid: number): string | undefined {
    const cached = this.cache.get(cgroupId);
    if (cached !== undefined) return cached;
    const found = this.fromProc(cgroupId, tgid) ?? this.fromWalk(cgroupId);
    if (found !== undefined) this.remember(cgroupId, found);
    return found;
  }

  private fromProc(cgroupId: string, tgid: number): string | undefined {
    let text: string;
    try {
      text = fs.readFileSync(`${this.procRoot}/${tgid}/cgroup`, 'latin1');
    } catch {
      return undefined; // exited
    }
    const line = text.split('\n').find((l) => l.startsWith('0::'));
    if (!line) return undefined;
    const p = line.slice(3);
    // The process may have moved since the exchange (or the pid been reused): trust the path only if it is the same cgroup.
    if (this.mount && !p.includes('/..')) {
      try {
        if (fs.statSync(path.join(this.mount, p), { bigint: true }).ino.toString() !== cgroupId) return undefined;
      } catch {
        return undefined;
      }
    }
    return p;
  }

  private fromWalk(cgroupId: string): string | undefined {
    const now = this.nowMs();
    if (!this.mount || now - this.lastWalkMs < WALK_INTERVAL_MS) return undefined;
    this.lastWalkMs = now;
    const pending: string[] = ['/'];
    let seen = 0;
    while (pending.length > 0 && seen++ < MAX_WALK_DIRECTORIES) {
      const rel = pending.pop()!;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(path.join(this.mount, rel), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const child = rel === '/' ? `/${e.name}` : `${rel}/${e.name}`;
        try {
          const id = fs.statSync(path.join(this.mount, child), { bigint: true }).ino.toString();
          // Every directory of the walk is worth keeping: the next unknown id is likely among them.
          if (this.cache.size < MAX_CACHED) this.cache.set(id, child);
        } catch {
          continue;
        }
        pending.push(child);
      }
    }
    return this.cache.get(cgroupId);
  }

  private remember(cgroupId: string, p: string): void {
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(cgroupId, p);
  }
}

/** The mount point of the cgroup2 file system ("/sys/fs/cgroup", or "/sys/fs/cgroup/unified" on a hybrid host). */
export function cgroup2Mount(procRoot = '/proc'): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`${procRoot}/self/mountinfo`, 'latin1');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    // "36 25 0:31 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw,..."
    const [before, after] = line.split(' - ');
    if (after?.startsWith('cgroup2 ')) return before.split(' ')[4].replace(/\\040/g, ' ');
  }
  return undefined;
}
