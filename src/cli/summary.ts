/**
 * `replay FILE --summary`: a capture file through the analytics engine, then
 * the RED view per service and route (requests, rate, errors, p50/p95/p99)
 * over a window ending at the file's last exchange. The store's clock is the
 * events' own time, so the same file always gives the same summary.
 */
import { once } from 'node:events';
import { redRows } from '../analytics/red';
import type { MetricStore } from '../analytics/store';
import { ExchangeCursor } from '../capture/decoder';
import { readCaptureFile } from '../capture/capture-file';
import { loadAnalyticsOptions } from '../config/analytics-config';
import { usage } from '../config/validate';
import { parseDuration } from '../analytics/duration';
import { Engine } from '../pipeline/engine';
import { DEFAULT_WINDOWS_MS } from '../pipeline/engine-options';
import { escapeForTerminal } from '../server/safe-text';
import { formatDuration } from './exchange-line';
import { logOf, type Io } from './trace';

export interface SummaryValues {
  config?: string;
  window?: string;
  top?: string;
  json?: boolean;
}

export interface SummaryRow {
  service: string;
  side: string;
  route: string;
  requests: number;
  ratePerSecond: number;
  errors: number;
  p50Seconds: number;
  p95Seconds: number;
  p99Seconds: number;
}


/** The RED rows of a window (src/analytics/red.ts), busiest first. */
export function summaryRows(store: MetricStore, windowMs: number): SummaryRow[] {
  return redRows(store, windowMs, ['service', 'side', 'route'])
    .map((r) => ({
      service: r.labels.service,
      side: r.labels.side,
      route: r.labels.route,
      requests: r.requests,
      ratePerSecond: r.requestsPerSecond,
      errors: r.errors,
      p50Seconds: r.latencySeconds.p50,
      p95Seconds: r.latencySeconds.p95,
      p99Seconds: r.latencySeconds.p99,
    }))
    .sort((a, b) => b.requests - a.requests || a.service.localeCompare(b.service) || a.route.localeCompare(b.route));
}

function table(rows: SummaryRow[]): string {
  const seconds = (s: number): string => (Number.isNaN(s) ? '-' : formatDuration(s * 1e9));
  const cells = [
    ['SERVICE', 'SIDE', 'ROUTE', 'REQUESTS', 'RATE/S', 'ERRORS', 'P50', 'P95', 'P99'],
    ...rows.map((r) => [
      escapeForTerminal(r.service),
      r.side,
      escapeForTerminal(r.route),
      String(r.requests),
      r.ratePerSecond.toFixed(2),
      `${((100 * r.errors) / r.requests).toFixed(1)}%`,
      seconds(r.p50Seconds),
      seconds(r.p95Seconds),
      seconds(r.p99Seconds),
    ]),
  ];
  const widths = cells[0].map((_, c) => Math.max(...cells.map((row) => row[c].length)));
  return cells.map((row) => row.map((cell, c) => (c >= 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n') + '\n';
}

export async function summaryCommand(file: string, values: SummaryValues, io: Io): Promise<number> {
  let windowMs: number | undefined;
  if (values.window !== undefined) {
    windowMs = parseDuration(values.window);
    if (windowMs === undefined) usage(`--window ${JSON.stringify(values.window)}: expected a duration such as 5m or 1h`);
  }
  const top = values.top === undefined ? 20 : Number(values.top);
  if (!Number.isInteger(top) || top < 1) usage(`--top ${JSON.stringify(values.top)}: expected a positive integer`);
  const { options, sources } = loadAnalyticsOptions(values.config, process.env);

  let firstMs = Infinity;
  let lastMs = -Infinity;
  let exchanges = 0;
  let engine: Engine | undefined;
  try {
    await readCaptureFile(file, async (batch, records, header) => {
      const offsetMs = Number(header.wallMinusMonotonicNs) / 1e6;
      engine ??= await Engine.start({ ...options, clockOffsetMs: offsetMs, now: () => lastMs }, sources);
      const cursor = new ExchangeCursor(batch);
      while (cursor.next()) {
        exchanges++;
        const endMs = cursor.endMonotimeMs + offsetMs;
        if (endMs > lastMs) lastMs = endMs;
        if (endMs < firstMs) firstMs = endMs;
      }
      await engine.enqueue(batch, records);
    });
    if (!engine || lastMs === -Infinity) {
      logOf(io).warn({ file }, `${file}: no exchanges`);
      return 0;
    }
    await engine.sync();
    const store = engine.store;
    // By default the smallest standard window that holds the whole recording.
    const window = windowMs ?? DEFAULT_WINDOWS_MS.find((w) => w >= lastMs - firstMs && !store.windowProblem(w)) ?? store.retentionMs;
    const problem = store.windowProblem(window);
    if (problem) usage(`--window ${values.window}: ${problem}`);
    const rows = summaryRows(store, window);
    const end = new Date(lastMs).toISOString();
    if (values.json) {
      io.stdout.write(JSON.stringify({ file, exchanges, windowSeconds: window / 1000, end, rows: rows.slice(0, top) }) + '\n');
    } else {
      io.stdout.write(`${exchanges} exchanges; window ${window / 1000}s ending ${end} (the last exchange)\n`);
      io.stdout.write(table(rows.slice(0, top)));
      if (rows.length > top) io.stdout.write(`… ${rows.length - top} more (--top N)\n`);
    }
    if (io.stdout.writableNeedDrain) await once(io.stdout, 'drain');
    return 0;
  } finally {
    await engine?.stop();
  }
}
