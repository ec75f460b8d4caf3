/**
 * A capture session over the native addon: validated options, preflight,
 * load and attach, batches to one consumer, stats with named counters, stop.
 *
 *   kernel --addon poll thread--> onBatch(batch: Buffer, records) on this thread
 *
 * The consumer owns each batch it receives.
 */
import { TracerError } from '../errors';
import { FILTER_MAX, HEAD_DEFAULT, HEAD_MAX, KernelCounters, verifyLayout, type KernelCounterName } from './abi';
import { loadAddon, type AttachResult, type NativeStats, type NativeTracer } from './addon';
import { preflight } from './preflight';

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
}

/** The addon's counters, with the kernel's named. */
export interface CaptureStats extends Omit<NativeStats, 'sweeps' | 'kernel'> {
  kernel: Record<KernelCounterName, number>;
  /** Everything lost, by reason; the total is what capture failed to deliver. */
  lost: { total: number; byReason: Record<string, number> };
}

export type OnBatch = (batch: Buffer, records: number) => void;

const FILTER_OFF = 0;
const FILTER_ALLOW = 1;
const FILTER_DENY = 2;

function fail(key: string, value: unknown, reason: string): never {
  throw new TracerError('HT_ERR_OPTION', `${key}: ${JSON.stringify(value)} ${reason}`);
}

function integerIn(key: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) fail(key, value, `must be an integer in [${min}, ${max}]`);
  return value;
}

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
  private readonly native: NativeTracer;
  private stopped: Promise<void> | undefined;

  private constructor(native: NativeTracer, attach: AttachResult[]) {
    this.native = native;
    this.attach = attach;
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

    const addon = loadAddon();
    verifyLayout(addon.layout());
    const failed = preflight(addon).filter((c) => !c.ok);
    if (failed.length > 0) {
      throw new TracerError('HT_ERR_PRECONDITION', failed.map((c) => `${c.name}: ${c.detail}; ${c.fix}`).join('\n'));
    }
    const native = new addon.Tracer(
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
      },
      onBatch,
    );
    const attach = native.start();
    return new Capture(native, attach);
  }

  stats(): CaptureStats {
    const raw = this.native.stats();
    const kernel = {} as Record<KernelCounterName, number>;
    for (const [name, index] of Object.entries(KernelCounters)) kernel[name as KernelCounterName] = raw.kernel[index] ?? 0;
    const byReason: Record<string, number> = {
      ringbuf_full: kernel.lostRingbufFull,
      conn_map_full: kernel.lostConnMapFull,
      args_map_full: kernel.lostArgsMapFull,
      response_without_request: kernel.lostResponseNoRequest,
      pipeline_overflow: kernel.lostPipelineOverflow,
      unparsed: kernel.lostUnparsed,
      scan_limit: kernel.lostScanLimit,
      consumer_queue_full: raw.droppedRecords,
    };
    const total = Object.values(byReason).reduce((a, b) => a + b, 0);
    return {
      records: raw.records,
      bytes: raw.bytes,
      batches: raw.batches,
      droppedBatches: raw.droppedBatches,
      droppedRecords: raw.droppedRecords,
      kernel,
      lost: { total, byReason },
    };
  }

  /** Detaches and resolves after the last batch was delivered. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.native.stop();
    return this.stopped;
  }
}
