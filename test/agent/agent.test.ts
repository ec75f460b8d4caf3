/**
 * The composition root without the kernel: a stand-in capture, the real
 * engine, live hub and port. The port answers, a WebSocket client does not
 * hold stop() up, stop() is idempotent and stops the parts in reverse, and a
 * port that cannot be opened stops what had started; stop() detaches the
 * capture while the port still answers (readiness 503), then closes it.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { WebSocket } from 'ws';
import { startAgent } from '../../src/agent/agent';
import type { Capture, CaptureStats, OnBatch } from '../../src/capture/capture';
import { loadAnalyticsOptions } from '../../src/config/analytics-config';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function fakeCapture(log: string[]): { start: (onBatch: OnBatch) => Capture; onBatch?: OnBatch } {
  const holder: { start: (onBatch: OnBatch) => Capture; onBatch?: OnBatch } = {
    start: (onBatch) => {
      holder.onBatch = onBatch;
      log.push('capture started');
      const stats = { records: 0, batches: 0, bytes: 0, stalls: 0, stalledMs: 0, kernel: {}, lost: { total: 0, byReason: {} } } as unknown as CaptureStats;
      return {
        attach: [{ program: 'sys_enter_read', target: 'syscalls/sys_enter_read', attached: true, error: '' }],
        stats: () => stats,
        stop: async () => void log.push('capture stopped'),
      } as unknown as Capture;
    },
  };
  return holder;
}

/** Each agent with its own data directory (alerting is on by default). */
const configOn = async () =>
  loadAnalyticsOptions(undefined, {
    HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(await freePort()),
    HTTP_TRACER_ANALYTICS_WORKER_THREADS: '1',
    HTTP_TRACER_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'http-tracer-agent-')),
  });

t.test('startAgent: the port answers; stop() with a WebSocket client open, twice', async (t) => {
  const log: string[] = [];
  const capture = fakeCapture(log);
  const agent = await startAgent({ config: await configOn(), clockOffsetMs: 0, startCapture: capture.start });
  t.teardown(() => agent.stop());
  const health = (await (await fetch(`${agent.url}/api/health`)).json()) as { status: string; probes: { attached: number } };
  t.match(health, { status: 'healthy', probes: { attached: 1 } });
  const ws = new WebSocket(`${agent.url.replace('http', 'ws')}/ws/dashboard`);
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  const closed = new Promise((r) => ws.once('close', r));
  const started = Date.now();
  // A WebSocket that holds the port holds stop() forever: 15 s is only a deadline for a loaded machine.
  let deadline: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    Promise.all([agent.stop(), agent.stop()]).then(() => closed).then(() => 'stopped'),
    new Promise((r) => (deadline = setTimeout(() => r('still stopping after 15 s'), 15_000))),
  ]);
  clearTimeout(deadline);
  t.equal(outcome, 'stopped', `stopped in ${Date.now() - started} ms, the WebSocket client ended with the port`);
  t.same(log, ['capture started', 'capture stopped']);
  t.equal(agent.engine.stats().status, 'stopped', 'the engine stopped last');
  await t.rejects(fetch(`${agent.url}/api/health`), 'the port is closed');
});

t.test('a port that cannot be opened: HT_ERR_LISTEN, and what had started is stopped', async (t) => {
  const held = net.createServer();
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
  t.teardown(() => held.close());
  const config = await configOn();
  config.server.port = (held.address() as net.AddressInfo).port;
  const log: string[] = [];
  await t.rejects(startAgent({ config, clockOffsetMs: 0, startCapture: fakeCapture(log).start }), { code: 'HT_ERR_LISTEN', message: /^cannot listen on 127\.0\.0\.1:\d+: / });
  t.same(log, ['capture started', 'capture stopped']);
});

t.test('stop(): the capture stops first, while the port still answers /readyz 503 (stopping), /healthz 200', async (t) => {
  const seen: string[] = [];
  let url = '';
  const agent = await startAgent({
    config: await configOn(),
    clockOffsetMs: 0,
    startCapture: () => {
      const stats = { records: 0, batches: 0, bytes: 0, stalls: 0, stalledMs: 0, kernel: {}, lost: { total: 0, byReason: {} } } as unknown as CaptureStats;
      return {
        attach: [{ program: 'sys_enter_read', target: 'syscalls/sys_enter_read', attached: true, error: '' }],
        stats: () => stats,
        stop: async () => {
          for (const path of ['/readyz', '/healthz']) {
            const r = await fetch(`${url}${path}`);
            seen.push(`${path} ${r.status} ${JSON.stringify(await r.json())}`);
          }
        },
      } as unknown as Capture;
    },
  });
  url = agent.url;
  t.equal((await fetch(`${url}/readyz`)).status, 200, 'ready while running');
  await agent.stop();
  t.same(seen, ['/readyz 503 {"status":"not ready","reason":"stopping: the agent is shutting down"}', '/healthz 200 {"status":"alive"}']);
  await t.rejects(fetch(`${url}/healthz`), 'then the port closes');
});
