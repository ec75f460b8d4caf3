/**
 * Keeps the TLS uprobes on every object that holds OpenSSL's SSL_read /
 * SSL_write: each libssl.so.* that a process maps, and each executable that
 * exports them (Node's `node` bundles OpenSSL). One attachment per file
 * (device and inode), for all processes, present and future.
 *
 *   start: every process's maps --> new objects --> attachTls(path, offsets)
 *   every noticeIntervalMs: tlsNotices() (the kernel saw a process map an
 *       executable file for the first time: at exec, or a library's mmap)
 *       --> that process's maps --> new objects
 *   every rescanIntervalMs: every process's maps again: objects no process
 *       maps any more are detached; any object a notice missed is attached
 *
 * Libraries other than libssl are not inspected (a libnode.so with OpenSSL
 * inside is not found), and a process's first TLS calls can come before its
 * object is attached (the notice is read within noticeIntervalMs).
 */
import type { NativeTracer } from '../addon';
import { exportedFunctionOffsets } from './elf-symbols';
import { executableMappings, isLibssl, processIds, type MappedObject } from './proc-maps';

/** The functions probed; an object must export SSL_read and SSL_write to be probed at all. */
export const TLS_FUNCTIONS = ['SSL_read', 'SSL_read_ex', 'SSL_write', 'SSL_write_ex', 'SSL_do_handshake', 'SSL_free'] as const;

export interface TlsProbesOptions {
  noticeIntervalMs: number;
  rescanIntervalMs: number;
}

/** An object with uprobes attached. */
export interface TlsObject {
  key: string;
  path: string;
  functions: string[];
}

export interface TlsFailure {
  path: string;
  error: string;
}

type TlsNative = Pick<NativeTracer, 'attachTls' | 'detachTls' | 'tlsNotices' | 'tlsForget'>;

/** "fe:01:1835023" (hex major:minor, decimal inode, as in /proc/<pid>/maps) as the kernel's device number and inode. */
function fileId(key: string): { dev: number; ino: number } {
  const [major, minor, ino] = key.split(':');
  return { dev: ((parseInt(major, 16) << 20) | parseInt(minor, 16)) >>> 0, ino: Number(ino) };
}

export class TlsProbes {
  private readonly attached = new Map<string, TlsObject & { handle: number }>();
  /** Objects inspected and found without the TLS functions (or failing): not read again while mapped. */
  private readonly passed = new Set<string>();
  private readonly failed: TlsFailure[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly native: TlsNative,
    private readonly options: TlsProbesOptions,
  ) {}

  start(): void {
    this.rescan();
    this.timers.push(setInterval(() => this.guarded('notices', () => this.takeNotices()), this.options.noticeIntervalMs).unref());
    this.timers.push(setInterval(() => this.guarded('rescan', () => this.rescan()), this.options.rescanIntervalMs).unref());
  }

  /** A timer's work: a failure is kept among the failures, never thrown out of the timer (it would end the agent). */
  private guarded(what: string, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.fail(what, err);
    }
  }

  private fail(path: string, err: unknown): void {
    this.failed.push({ path, error: (err as Error).message });
    if (this.failed.length > 100) this.failed.shift();
  }

  /** Stops looking; the uprobes go with the tracer. */
  stop(): void {
    this.timers.forEach(clearInterval);
    this.timers.length = 0;
  }

  objects(): TlsObject[] {
    return [...this.attached.values()].map(({ key, path, functions }) => ({ key, path, functions }));
  }

  /** Objects that export the functions but could not be probed (or a timer's work that failed: path "notices" or "rescan"), most recent last, at most 100. */
  failures(): TlsFailure[] {
    return [...this.failed];
  }

  /** Reads the kernel's notices now (also done every noticeIntervalMs). */
  takeNotices(): void {
    for (const pid of this.native.tlsNotices()) for (const o of executableMappings(pid)) this.consider(o);
  }

  /** Every process's mappings: attaches what is new, detaches what no process maps any more. */
  rescan(): void {
    const seen = new Set<string>();
    for (const pid of processIds()) {
      for (const o of executableMappings(pid)) {
        seen.add(o.key);
        this.consider(o);
      }
    }
    for (const [key, o] of this.attached) {
      if (seen.has(key)) continue;
      this.native.detachTls(o.handle);
      this.attached.delete(key);
      this.forget(key);
    }
    for (const key of this.passed) {
      if (seen.has(key)) continue;
      this.passed.delete(key);
      this.forget(key);
    }
  }

  /** The next process to map the file is reported again (without waiting for a rescan). */
  private forget(key: string): void {
    const { dev, ino } = fileId(key);
    this.native.tlsForget(dev, ino);
  }

  private consider(o: MappedObject): void {
    if (this.attached.has(o.key) || this.passed.has(o.key)) return;
    this.passed.add(o.key); // until attached: inspected once
    if (!isLibssl(o.path) && /\.so(\.|$)/.test(o.path)) return;
    let offsets: Map<string, number>;
    try {
      offsets = exportedFunctionOffsets(o.openPath, TLS_FUNCTIONS);
    } catch {
      return; // gone, or not an object we read: nothing to probe
    }
    if (!offsets.has('SSL_read') || !offsets.has('SSL_write')) return;
    try {
      const handle = this.native.attachTls(o.openPath, Object.fromEntries(offsets));
      this.attached.set(o.key, { key: o.key, path: o.path, functions: [...offsets.keys()], handle });
      this.passed.delete(o.key);
    } catch (err) {
      this.fail(o.path, err);
    }
  }
}
