/**
 * A capture session over the native addon: validated options, preflight,
 * load and attach, batches to one consumer, stats with named counters, stop.
 *
 *   kernel ring buffer --addon poll thread--> onBatch(batch: Buffer, records) on this thread
 *          ^                                           |
 *          `-- no credit: records wait in the ring <---' returns, or its promise settles
 *
 * The consumer owns each batch it receives. A consumer slower than the kernel
 * back-pressures into the ring buffer (ringBufferBytes, sized for bursts);
 * records are lost only if the ring overflows, counted as ringbuf_full.
 */
import { fail, integerIn } from '../config/validate';
import { TracerError } from '../errors';
import { FILTER_MAX, HEAD_DEFAULT, HEAD_MAX, KernelCounters, verifyLayout, type KernelCounterName } from './abi';
import type { Addon, AttachResult, NativeStats, NativeTracer, NativeTracerOptions } from './addon';
import { loadAddon } from './addon-load';
import { preflight } from './preflight';
import { TlsProbes } from './tls/tls-probes';

export interface ListFilter<T> {
  allow?: T[];
  deny?: T[];
}

export interface CaptureOptions {
  /** Kernel ring buffer size: a power of two, at least 4096. Default 8 MiB. */
  ringBufferBytes?: number;
  /** Request head bytes kept per exchange: a multiple of 8, 0..512. Default 256. */
  headBytes?: number;
  /** Queued bytes that force a wake-up of the poll thread. Default 64 KiB (a quarter of a smaller ring). */
  wakeupBytes?: number;
  /** How often the poll thread drains without a wake-up. Default 20 ms. */
  drainIntervalMs?: number;
  /** Exchanges outstanding longer than this are emitted as aborted; 0 disables. Default 120 s. */
  exchangeTimeoutMs?: number;
  /** Service ports: a server's local port, a client's peer port. */
  ports?: ListFilter<number>;
  /** Process ids (tgid). The agent's own process is always excluded. */
  pids?: ListFilter<number>;
  /** HTTPS through uprobes on the TLS library (src/capture/tls). Default true. */
  tls?: boolean;
  /** How often every process's mappings are read again to detach objects no process maps. Default 30 s. */
  tlsRescanIntervalMs?: number;
}

/** The addon's counters (stalls: times it left records in the ring for want of a credit), with the kernel's named. */
export interface CaptureStats extends Omit<NativeStats, 'sweeps' | 'kernel'> {
  kernel: Record<KernelCounterName, number>;
  /** Everything lost, by reason; the total is what capture failed to deliver. */
  lost: { total: number; byReason: Record<string, number> };
}

/**
 * Receives each batch: `records` whole records back to back, in a Buffer that
 * is the consumer's to keep. The batch is consumed when onBatch returns or, if
 * it returns a promise, when that settles (other return values are ignored).
 * Until then it holds one of the addon's few credits; with none left the addon
 * takes no more records out of the kernel ring buffer. A rejected promise is
 * rethrown (unhandled), like a throw.
 */
export type OnBatch = (batch: Buffer, records: number) => unknown;

const FILTER_OFF = 0;
const FILTER_ALLOW = 1;
const FILTER_DENY = 2;

function listFilter(key: string, filter: ListFilter<number> | undefined, max: number): { mode: number; values: number[] } {
  if (!filter || (!filter.allow?.length && !filter.deny?.length)) return { mode: FILTER_OFF, values: [] };
  if (filter.allow?.length && filter.deny?.length) fail(key, filter, 'cannot both allow and deny');
  const values = (filter.allow?.length ? filter.allow : filter.deny) ?? [];
  if (values.length > FILTER_MAX) fail(key, values.length, `entries: at most ${FILTER_MAX}`);
  values.forEach((v, i) => integerIn(`${key}[${i}]`, v, 1, max));
  return { mode: filter.allow?.length ? FILTER_ALLOW : FILTER_DENY, values };
}

export class Capture {
  readonly attach: AttachResult[];
  /** The TLS uprobes' objects; undefined with tls off. */
  readonly tls: TlsProbes | undefined;
  private readonly native: NativeTracer;
  private readonly onBatch: OnBatch;
  /** Batches whose promise has not settled, and stop() waiting for them. */
  private held = 0;
  private allSettled: (() => void) | undefined;
  private stopped: Promise<void> | undefined;

  private constructor(addon: Addon, options: NativeTracerOptions, onBatch: OnBatch, tlsRescanIntervalMs: number) {
    this.onBatch = onBatch;
    this.native = new addon.Tracer(options, (batch, records) => this.deliver(batch, records));
    this.attach = this.native.start();
    if (options.tls) {
      this.tls = new TlsProbes(this.native, { noticeIntervalMs: 100, rescanIntervalMs: tlsRescanIntervalMs });
      try {
        this.tls.start();
      } catch (err) {
        this.tls.stop();
        void this.native.stop();
        throw err;
      }
    }
  }

  /** Passes a batch on; its credit goes back once it is consumed, also when onBatch throws. */
  private deliver(batch: Buffer, records: number): void {
    let result: unknown;
    try {
      result = this.onBatch(batch, records);
    } catch (err) {
      this.native.release();
      throw err;
    }
    if (!(result instanceof Promise)) {
      this.native.release();
      return;
    }
    this.held++;
    const settled = (): void => {
      this.native.release();
      if (--this.held === 0) this.allSettled?.();
    };
    void result.then(settled, (err: unknown) => {
      settled();
      throw err;
    });
  }

  /** Loads and attaches (about a second or more: BTF parsing, verification). */
  static start(options: CaptureOptions, onBatch: OnBatch): Capture {
    const ringBufferBytes = options.ringBufferBytes ?? 8 << 20;
    if (!Number.isInteger(ringBufferBytes) || ringBufferBytes < 4096 || ringBufferBytes > 1 << 30 || (ringBufferBytes & (ringBufferBytes - 1)) !== 0) {
      fail('ringBufferBytes', ringBufferBytes, 'must be a power of two in [4096, 1073741824]');
    }
    const headBytes = integerIn('headBytes', options.headBytes ?? HEAD_DEFAULT, 0, HEAD_MAX);
    if (headBytes % 8 !== 0) fail('headBytes', headBytes, 'must be a multiple of 8');
    const ports = listFilter('ports', options.ports, 65535);
    const pids = listFilter('pids', options.pids, 0x7fffffff);

    const exchangeTimeoutMs = integerIn('exchangeTimeoutMs', options.exchangeTimeoutMs ?? 120_000, 0, 86_400_000);
    const wakeupBytes = integerIn('wakeupBytes', options.wakeupBytes ?? Math.min(64 * 1024, ringBufferBytes / 4), 1, ringBufferBytes);
    const drainIntervalMs = integerIn('drainIntervalMs', options.drainIntervalMs ?? 20, 1, 10_000);
    const tls = options.tls ?? true;
    if (typeof tls !== 'boolean') fail('tls', tls, 'must be true or false');
    const tlsRescanIntervalMs = integerIn('tlsRescanIntervalMs', options.tlsRescanIntervalMs ?? 30_000, 100, 3_600_000);

    const addon = loadAddon();
    verifyLayout(addon.layout());
    const failed = preflight(addon).filter((c) => !c.ok);
    if (failed.length > 0) {
      throw new TracerError('HT_ERR_PRECONDITION', failed.map((c) => `${c.name}: ${c.detail}; ${c.fix}`).join('\n'));
    }
    return new Capture(
      addon,
      {
        ringBufferBytes,
        headBytes,
        wakeupBytes,
        drainIntervalMs,
        exchangeTimeoutMs,
        // Timeouts are found within a quarter of the timeout, at most a second late.
        sweepIntervalMs: Math.max(10, Math.min(1000, Math.floor(exchangeTimeoutMs / 4))),
        selfTgid: process.pid,
        portFilterMode: ports.mode,
        ports: ports.values,
        pidFilterMode: pids.mode,
        pids: pids.values,
        tls,
      },
      onBatch,
      tlsRescanIntervalMs,
    );
  }

  stats(): CaptureStats {
    const raw = this.native.stats();
    const kernel = {} as Record<KernelCounterName, number>;
    for (const [name, index] of Object.entries(KernelCounters)) kernel[name as KernelCounterName] = raw.kernel[index] ?? 0;
    const byReason: Record<string, number> = {
      ringbuf_full: kernel.lostRingbufFull,
      conn_map_full: kernel.lostConnMapFull,
      response_without_request: kernel.lostResponseNoRequest,
      pipeline_overflow: kernel.lostPipelineOverflow,
      unparsed: kernel.lostUnparsed,
      scan_limit: kernel.lostScanLimit,
      tcp_ringbuf_full: kernel.lostTcpRingbufFull,
      tcp_sock_map_full: kernel.lostTcpSockMapFull,
    };
    const total = Object.values(byReason).reduce((a, b) => a + b, 0);
    return {
      records: raw.records,
      bytes: raw.bytes,
      batches: raw.batches,
      stalls: raw.stalls,
      stalledMs: raw.stalledMs,
      kernel,
      lost: { total, byReason },
    };
  }

  /** Detaches and resolves once the last batch was delivered and consumed (its promise settled). Idempotent. */
  stop(): Promise<void> {
    this.tls?.stop();
    this.stopped ??= this.native.stop().then(() => (this.held === 0 ? undefined : new Promise<void>((resolve) => (this.allSettled = resolve))));
    return this.stopped;
  }
}
