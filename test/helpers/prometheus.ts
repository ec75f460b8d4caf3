/**
 * The real Prometheus (Debian's `prometheus`) for exporter tests: its own
 * config and TSDB in a throwaway directory, a free loopback port, the
 * remote-write receiver on (POST /api/v1/write), nothing scraped unless the
 * test says so; ready when `/-/ready` answers 200.
 * Locally the tests skip (with the reason) only when the binary is missing;
 * under CI=true they never skip: a missing binary fails them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileSkipReason, freePort } from './kernel';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export function prometheusSkipReason(): string | false {
  return fileSkipReason(PROMETHEUS_BIN, 'apt-get install prometheus, or bash scripts/setup.sh --test as root');
}

/** One series of an instant vector: labels and [unix seconds, "value"]. */
export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One series of a range matrix. */
export interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface PrometheusOptions {
  /** Accept POST /api/v1/write. Default true. */
  remoteWriteReceiver?: boolean;
  /** storage.tsdb.out_of_order_time_window (e.g. "10m"); Prometheus's default, none, refuses older samples. */
  outOfOrderTimeWindow?: string;
  /** Extra YAML appended to prometheus.yml (scrape_configs …). */
  config?: string;
  timeoutMs?: number;
}

export interface Prometheus {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The remote-write receiver: url + /api/v1/write. */
  writeUrl: string;
  /** GET /api/v1/query; time in Unix ms (default: now). Throws on a non-success answer. */
  query(promql: string, timeMs?: number): Promise<VectorSample[]>;
  /** GET /api/v1/query_range; times in Unix ms, step in seconds. */
  queryRange(promql: string, startMs: number, endMs: number, stepSeconds: number): Promise<MatrixSeries[]>;
  /** The raw samples of a selector over the rangeSeconds up to timeMs (`selector[range]`), as [Unix ms, value]. */
  samples(selector: string, rangeSeconds: number, timeMs?: number): Promise<{ metric: Record<string, string>; samples: [number, number][] }[]>;
  /** The value of a query's only series at timeMs, undefined when it has none; throws when it has several. */
  value(promql: string, timeMs?: number): Promise<number | undefined>;
  /** A sample of Prometheus's own /metrics, by its exact series text; undefined when absent. */
  metric(series: string): Promise<number | undefined>;
  /** What the process wrote, for failure messages. */
  log(): string;
  /** Stops the process (SIGTERM) and keeps its data: an outage. */
  down(): Promise<void>;
  /** Starts it again on the same port and data; resolves once ready. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<Prometheus> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-'));
  let yml = 'global:\n  scrape_interval: 1m\n';
  if (options.outOfOrderTimeWindow) yml += `storage:\n  tsdb:\n    out_of_order_time_window: ${options.outOfOrderTimeWindow}\n`;
  if (options.config) yml += options.config;
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), yml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=debug',
  ];
  if (options.remoteWriteReceiver !== false) args.push('--web.enable-remote-write-receiver');
  let log = '';
  let child: ChildProcess;
  let exited: Promise<void>;
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  /** SIGTERM, and wait for the exit; nothing when it has already exited. */
  const halt = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      await halt();
      fs.rmSync(dir, { recursive: true, force: true });
    })());

  /** Spawns the process and waits until it is ready. */
  const launch = async (): Promise<void> => {
    child = spawn(PROMETHEUS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let spawnError: Error | undefined;
    child.once('error', (e) => (spawnError = e));
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError || child.exitCode !== null) {
        await stop();
        throw new Error(`prometheus did not start (${spawnError?.message ?? `exit ${child.exitCode}`}): ${log}`);
      }
      const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`prometheus not ready at ${url} after ${timeoutMs} ms: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await launch();

  const api = async <T>(pathAndQuery: string): Promise<T> => {
    const r = await fetch(`${url}${pathAndQuery}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await r.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`GET ${pathAndQuery}: HTTP ${r.status}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const seconds = (ms: number) => (ms / 1000).toFixed(3);

  const query = async (promql: string, timeMs = Date.now()): Promise<VectorSample[]> => {
    const data = await api<{ resultType: string; result: VectorSample[] }>(`/api/v1/query?${new URLSearchParams({ query: promql, time: seconds(timeMs) })}`);
    if (data.resultType !== 'vector') throw new Error(`${promql}: a ${data.resultType}, not a vector`);
    return data.result;
  };

  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    query,
    async queryRange(promql, startMs, endMs, stepSeconds) {
      const data = await api<{ result: MatrixSeries[] }>(
        `/api/v1/query_range?${new URLSearchParams({ query: promql, start: seconds(startMs), end: seconds(endMs), step: String(stepSeconds) })}`,
      );
      return data.result;
    },
    async samples(selector, rangeSeconds, timeMs = Date.now()) {
      const data = await api<{ resultType: string; result: MatrixSeries[] }>(
        `/api/v1/query?${new URLSearchParams({ query: `${selector}[${rangeSeconds}s]`, time: seconds(timeMs) })}`,
      );
      return data.result.map((r) => ({ metric: r.metric, samples: r.values.map(([s, v]): [number, number] => [Math.round(s * 1000), Number(v)]) }));
    },
    async value(promql, timeMs) {
      const result = await query(promql, timeMs);
      if (result.length > 1) throw new Error(`${promql}: ${result.length} series, not one: ${JSON.stringify(result)}`);
      return result.length === 0 ? undefined : Number(result[0].value[1]);
    },
    async metric(series: string) {
      const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    },
    log: () => log,
    down: halt,
    up: launch,
    stop,
  };
}
