/**
 * The real Prometheus Alertmanager (Debian's prometheus-alertmanager) for
 * notifier tests: its own config and storage in a throwaway directory, a
 * free loopback port, clustering off, ready when `/-/ready` answers 200.
 * Locally the tests skip (with the reason) only when the binary is missing;
 * under CI=true they never skip: a missing binary fails them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ALERTMANAGER_BIN = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager';

export function alertmanagerSkipReason(): string | false {
  if (process.env.CI === 'true') return false;
  if (!fs.existsSync(ALERTMANAGER_BIN)) return `needs ${ALERTMANAGER_BIN} (apt-get install prometheus-alertmanager, or bash scripts/setup.sh as root)`;
  return false;
}

/** An alert as GET /api/v2/alerts lists it (gettableAlert), the fields the tests read. */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: { state: 'unprocessed' | 'active' | 'suppressed'; silencedBy: string[]; inhibitedBy: string[] };
}

export interface AlertsFilter {
  active?: boolean;
  silenced?: boolean;
  inhibited?: boolean;
  unprocessed?: boolean;
  /** Label matchers, as Alertmanager takes them: 'alertname="X"'. */
  filter?: string[];
}

export interface Alertmanager {
  /** http://127.0.0.1:PORT: the base URL a target is configured with. */
  url: string;
  /** GET /api/v2/alerts. Alertmanager's own defaults: every filter true (active, silenced, inhibited and unprocessed alerts). */
  alerts(filter?: AlertsFilter): Promise<GettableAlert[]>;
  /** A sample of Alertmanager's own /metrics, by its exact series text ('alertmanager_alerts_received_total{status="resolved",version="v2"}'); undefined when absent. */
  metric(series: string): Promise<number | undefined>;
  /** What the process wrote, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const CONFIG = `route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
`;

export async function startAlertmanager(options: { timeoutMs?: number } = {}): Promise<Alertmanager> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alertmanager-'));
  fs.writeFileSync(path.join(dir, 'alertmanager.yml'), CONFIG);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    ALERTMANAGER_BIN,
    [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=', // no gossip: nothing leaves loopback
      '--log.level=debug',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    if (spawnError || child.exitCode !== null) {
      await stop();
      throw new Error(`alertmanager did not start (${spawnError?.message ?? `exit ${child.exitCode}`}): ${log}`);
    }
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`alertmanager not ready at ${url} after ${options.timeoutMs ?? 15_000} ms: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    log: () => log,
    async metric(series: string) {
      const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    },
    stop,
    async alerts(filter: AlertsFilter = {}) {
      const query = new URLSearchParams();
      for (const key of ['active', 'silenced', 'inhibited', 'unprocessed'] as const) {
        if (filter[key] !== undefined) query.set(key, String(filter[key]));
      }
      for (const f of filter.filter ?? []) query.append('filter', f);
      const r = await fetch(`${url}/api/v2/alerts?${query}`, { signal: AbortSignal.timeout(5000) });
      if (r.status !== 200) throw new Error(`GET /api/v2/alerts: HTTP ${r.status}: ${await r.text()}`);
      return (await r.json()) as GettableAlert[];
    },
  };
}
