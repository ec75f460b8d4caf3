/**
 * `trace`, `record` and `replay`: exchanges from the kernel (or a capture
 * file) to stdout as lines or JSON, or into a capture file.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Capture, type CaptureStats } from '../capture/capture';
import { readCaptureFile, CaptureFileWriter } from '../capture/capture-file';
import { wallMinusMonotonicNs } from '../capture/clock';
import { loadAddon } from '../capture/addon-load';
import { ExchangeCursor } from '../capture/decoder';
import { createLogger, type Log } from '../log/logger';
import { formatJson, formatLine, matches, type ExchangeFilter } from './exchange-line';
import { captureOptions, exchangeFilter, type ParsedCaptureValues } from './options';

export interface Io {
  stdout: Writable;
  /** Where diagnostics go when no logger is given: human lines at level info. */
  stderr: Writable;
  /** The diagnostics' logger (main.ts makes it from --log-level and --log-format). */
  log?: Log;
  /** Resolves when the user asks to stop (Ctrl-C, SIGTERM). */
  stopRequested: Promise<void>;
}

/** The command's logger: the one given, else human lines on io.stderr. */
export function logOf(io: Io): Log {
  return (io.log ??= createLogger({ level: 'info', format: 'text' }, io.stderr));
}

/** Output waiting for a slow reader (a pipe) beyond which lines are dropped, not buffered. */
export const MAX_PENDING_OUTPUT_BYTES = 8 << 20;

export interface BatchPrinter {
  /** Prints a batch; returns how many exchanges passed the filter. */
  print(batch: Uint8Array): number;
  /** Lines dropped because the reader did not keep up. */
  dropped: number;
}

/**
 * Turns batches into output text, one write per batch. With dropWhenSlow
 * (live capture, which cannot wait), lines are dropped and counted while more
 * than MAX_PENDING_OUTPUT_BYTES wait for the reader; otherwise the caller waits
 * for 'drain'.
 */
export function batchPrinter(filter: ExchangeFilter, json: boolean, offsetNs: () => bigint, out: Writable, dropWhenSlow: boolean): BatchPrinter {
  const printer: BatchPrinter = {
    dropped: 0,
    print(batch: Uint8Array): number {
      const cursor = new ExchangeCursor(batch);
      const offsetMs = Number(offsetNs() / 1_000_000n);
      let text = '';
      let shown = 0;
      while (cursor.next()) {
        const e = cursor.toExchange();
        if (!matches(e, filter)) continue;
        const unixMs = cursor.startMonotimeMs + offsetMs;
        text += (json ? formatJson(e, unixMs) : formatLine(e, unixMs)) + '\n';
        shown++;
      }
      if (!text) return shown;
      if (dropWhenSlow && out.writableLength > MAX_PENDING_OUTPUT_BYTES) printer.dropped += shown;
      else out.write(text);
      return shown;
    },
  };
  return printer;
}

export function lossSummary(stats: CaptureStats): string {
  const reasons = Object.entries(stats.lost.byReason)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${stats.kernel.exchanges} exchanges captured (${stats.kernel.aborted} aborted) and ${stats.kernel.tcpEvents} TCP events, ${stats.records} records delivered; lost ${stats.lost.total}: ${reasons}`;
}

export function startCapture(values: ParsedCaptureValues, io: Io, onBatch: (batch: Buffer, records: number) => void): Capture {
  const log = logOf(io);
  const started = Date.now();
  log.debug('loading and attaching the eBPF programs');
  const capture = Capture.start(captureOptions(values), onBatch);
  const attached = capture.attach.filter((a) => a.attached).length;
  const seconds = (Date.now() - started) / 1000;
  log.info({ attached, total: capture.attach.length, seconds }, `capturing: ${attached}/${capture.attach.length} probes attached in ${seconds.toFixed(1)} s; Ctrl-C to stop`);
  // Said once, at start: what attached does not change while the capture runs.
  for (const f of capture.attach.filter((a) => !a.attached)) log.warn({ program: f.program, target: f.target, error: f.error }, `not attached: ${f.program} (${f.target}): ${f.error}`);
  if (capture.tls) {
    const objects = capture.tls.objects().map((o) => o.path);
    log.info({ objects }, `https: uprobes on ${objects.length} TLS ${objects.length === 1 ? 'library' : 'libraries'}${objects.length > 0 ? ` (${objects.join(', ')})` : ''}; more as processes map them`);
  }
  return capture;
}

export async function traceCommand(values: ParsedCaptureValues, io: Io): Promise<number> {
  const filter = exchangeFilter(values);
  const offset = wallMinusMonotonicNs(loadAddon());
  const printer = batchPrinter(filter, values.json ?? false, () => offset, io.stdout, true);
  const capture = startCapture(values, io, (batch) => printer.print(batch));
  await io.stopRequested;
  await capture.stop();
  const dropped = printer.dropped ? `; ${printer.dropped} lines dropped: the reader of stdout did not keep up` : '';
  logOf(io).info({ lost: capture.stats().lost.total, linesDropped: printer.dropped }, `stopped: ${lossSummary(capture.stats())}${dropped}`);
  return 0;
}

export async function recordCommand(file: string, values: ParsedCaptureValues, io: Io): Promise<number> {
  const offsetNs = wallMinusMonotonicNs(loadAddon());
  // The capture first: it checks privileges and loads before the file exists, so a user who
  // cannot capture is told so and left without an empty file. Batches arrive on later turns
  // of the event loop, after the writer below exists.
  let writer: CaptureFileWriter | undefined;
  const capture = startCapture(values, io, (batch, records) => writer!.write(batch, records));
  try {
    writer = new CaptureFileWriter(file, offsetNs);
  } catch (e) {
    await capture.stop();
    throw e;
  }
  try {
    await io.stopRequested;
    await capture.stop();
    logOf(io).info({ file, records: writer.recordsWritten }, `stopped: ${writer.recordsWritten} records in ${writer.framesWritten} frames written to ${file}; ${lossSummary(capture.stats())}`);
  } finally {
    writer.close();
  }
  return 0;
}

export async function replayCommand(file: string, values: ParsedCaptureValues, io: Io): Promise<number> {
  const filter = exchangeFilter(values);
  let offset = 0n;
  const printer = batchPrinter(filter, values.json ?? false, () => offset, io.stdout, false);
  let shown = 0;
  const info = await readCaptureFile(file, async (batch, _records, header) => {
    offset = header.wallMinusMonotonicNs;
    shown += printer.print(batch);
    if (io.stdout.writableNeedDrain) await once(io.stdout, 'drain');
  });
  logOf(io).info({ file, records: info.records, shown }, `replayed ${info.records} records in ${info.frames} frames from ${file}; ${shown} shown`);
  return 0;
}
