/**
 * /healthz and /readyz with the real agent and real eBPF (issue 14): before
 * the agent starts nothing answers (a kubelet counts a refused connection as
 * a failed probe); once the programs are attached /readyz is 200; once
 * stop() has begun and the programs are detached, the port still answers
 * for a moment: /readyz and /api/health 503, /healthz 200; then it closes.
 * And `http-tracer run` as a daemon: every stderr line a JSON record, ready,
 * SIGTERM stops it with exit 0.
 */
import fs from 'node:fs';
import t from 'tap';
import { startAgent } from '../../src/agent/agent';
import { Capture } from '../../src/capture/capture';
import { wallMinusMonotonicNs } from '../../src/capture/clock';
import { loadAddon } from '../../src/capture/addon-load';
import { loadAnalyticsOptions } from '../../src/config/analytics-config';
import { agentProcess, freePort, kernelSkipReason, nodeClient, nodeServer, sleep, stopChild } from '../helpers/kernel';

/** BPF programs this process holds (its fds' fdinfo): other tests' programs do not count. */
function programsHeld(): number {
  return fs.readdirSync('/proc/self/fdinfo').filter((fd) => {
    try {
      return /^prog_id:\s+\d+$/m.test(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    } catch {
      return false; // an fd closed meanwhile
    }
  }).length;
}

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

t.test('readyz: refused before the start, 200 once attached, 503 once the capture stopped', { skip: kernelSkipReason() }, async (t) => {
  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  t.teardown(() => stopChild(server));
  const agentPort = await freePort();
  const url = `http://127.0.0.1:${agentPort}`;
  const config = loadAnalyticsOptions(undefined, {
    HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(agentPort),
    HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '127.0.0.1',
    HTTP_TRACER_ANALYTICS_WORKER_THREADS: '1',
    HTTP_TRACER_ANALYTICS_ENABLE_ALERTING: 'false',
  });

  await t.rejects(fetch(`${url}/readyz`), 'before the start: refused');
  t.equal(programsHeld(), 0, 'no program loaded yet');

  // The capture's stop resolves only when the test says so: the port stays open, the programs already gone.
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const agent = await startAgent({
    config,
    clockOffsetMs: Number(wallMinusMonotonicNs(loadAddon())) / 1e6,
    startCapture: (onBatch) => {
      const capture = Capture.start({ ports: { allow: [serverPort] } }, onBatch);
      const stop = capture.stop.bind(capture);
      capture.stop = () => stop().then(() => gate);
      return capture;
    },
  });
  t.teardown(async () => {
    release();
    await agent.stop();
  });
  const attached = agent.capture.attach.filter((a) => a.attached).length;
  t.ok(attached > 0 && programsHeld() >= attached, `${attached} programs attached, ${programsHeld()} held`);

  const ready = await get(`${url}/readyz`);
  t.same(ready, { status: 200, body: { status: 'ready', reason: `capturing: ${attached}/${agent.capture.attach.length} probes attached, engine running` } });
  t.same(await get(`${url}/healthz`), { status: 200, body: { status: 'alive' } });
  const health = await get(`${url}/api/health`);
  t.equal(health.status, 200);
  t.match(health.body.status, /^(healthy|degraded)$/);
  await nodeClient(serverPort, true, [{ method: 'GET', path: '/hello' }]);

  const stopping = agent.stop();
  const deadline = Date.now() + 10_000;
  while (programsHeld() > 0 && Date.now() < deadline) await sleep(20);
  t.equal(programsHeld(), 0, 'the capture stopped: every program detached');
  t.same(await get(`${url}/readyz`), { status: 503, body: { status: 'not ready', reason: 'stopping: the agent is shutting down' } });
  t.same(await get(`${url}/healthz`), { status: 200, body: { status: 'alive' } }, 'still alive while it stops');
  const unhealthy = await get(`${url}/api/health`);
  t.equal(unhealthy.status, 503);
  t.match(unhealthy.body, { status: 'unhealthy', problems: ['stopping: the agent is shutting down'] });

  release();
  await stopping;
  await t.rejects(fetch(`${url}/readyz`), 'stopped: the port is closed');
});

t.test('http-tracer run: JSON log lines on stderr, /readyz 200, SIGTERM: exit 0 after "stopping" and "stopped"', { skip: kernelSkipReason() }, async (t) => {
  const port = await freePort();
  const { child, url, stderr } = await agentProcess('run', [], port);
  t.teardown(() => stopChild(child));
  const ready = await get(`${url}/readyz`);
  t.equal(ready.status, 200, JSON.stringify(ready.body));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  const records = stderr()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { level: string; time: string; msg: string });
  for (const r of records) {
    t.match(r.level, /^(info|warn)$/, r.msg);
    t.ok(Number.isFinite(Date.parse(r.time)), `time ${r.time}`);
  }
  const messages = records.map((r) => r.msg);
  t.ok(messages.some((m) => /^capturing: \d+\/\d+ probes attached in [\d.]+ s; Ctrl-C to stop$/.test(m)), 'capturing');
  t.ok(messages.includes(`agent: REST API ${url}/api/metrics, Prometheus ${url}/metrics`), 'where it listens');
  t.ok(messages.indexOf('stopping') >= 0 && messages.findIndex((m) => m.startsWith('stopped: ')) > messages.indexOf('stopping'), 'stopping, then stopped');
});
