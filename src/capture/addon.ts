/**
 * The native addon's surface, typed (./addon-load loads it). The addon is
 * loaded once per thread that uses it: a Buffer it delivers belongs to that
 * thread (see STYLE.md).
 */
import type { AddonLayout } from './abi';

/** One row of the attach report: a BPF program and its tracepoint. */
export interface AttachResult {
  program: string;
  target: string;
  attached: boolean;
  error?: string;
}

export interface NativeTracerOptions {
  ringBufferBytes: number;
  headBytes: number;
  wakeupBytes: number;
  exchangeTimeoutMs: number;
  selfTgid: number;
  drainIntervalMs: number;
  sweepIntervalMs: number;
  portFilterMode: number;
  ports: number[];
  pidFilterMode: number;
  pids: number[];
  /** Load the TLS uprobe programs' notices (exec, executable mmap); uprobes themselves come with attachTls(). */
  tls: boolean;
}

export interface NativeStats {
  records: number;
  bytes: number;
  batches: number;
  /** Times the poll thread had no credit and left records in the kernel ring buffer, and how long it waited in all. */
  stalls: number;
  stalledMs: number;
  sweeps: number;
  kernel: number[];
}

/**
 * onBatch receives a Buffer of whole records back to back and their count.
 * The Buffer is the callee's to keep. Each batch holds one of a few credits
 * until release() is called for it; with none left the poll thread leaves
 * records in the kernel ring buffer.
 */
export type BatchCallback = (batch: Buffer, records: number) => void;

export interface NativeTracer {
  start(): AttachResult[];
  /** Resolves once every batch has been passed to onBatch (released or not). */
  stop(): Promise<void>;
  stats(): NativeStats;
  /** Returns the credit of one batch passed to onBatch. */
  release(): void;
  /**
   * Attaches the TLS uprobes to one object file for every process that maps
   * it: offsets by function name (SSL_read, SSL_write, their _ex forms,
   * SSL_do_handshake, SSL_free), file offsets. Returns a handle for detachTls.
   */
  attachTls(path: string, offsets: Record<string, number>): number;
  detachTls(handle: number): void;
  /** Processes that mapped an executable file the kernel had not reported yet, since the last call. */
  tlsNotices(): number[];
  /** The kernel reports this file again when a process next maps it (dev: major << 20 | minor). */
  tlsForget(dev: number, ino: number): void;
}

export interface Addon {
  Tracer: new (options: NativeTracerOptions, onBatch: BatchCallback) => NativeTracer;
  layout(): AddonLayout;
  mountTracefs(path: string): void;
  monotonicNs(): bigint;
}
