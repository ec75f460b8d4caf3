/**
 * The agent's troubles in the log once per change, not per event or per
 * sample: engine failures, losses in the last minute, failing alert rules,
 * failing notification targets, forwarding queues dropping.
 */
import t from 'tap';
import { LOSS_WARNING_PER_MINUTE, startHealthLog } from '../../src/agent/health-log';
import type { AlertingStats } from '../../src/alerting/alerting';
import type { TargetStats } from '../../src/alerting/types';
import type { CaptureStats } from '../../src/capture/capture';
import type { TlsFailure } from '../../src/capture/tls/tls-probes';
import type { ForwarderStats } from '../../src/exporters/forwarder';
import { createLogger } from '../../src/log/logger';
import type { EngineStats } from '../../src/pipeline/engine';
import type { HealthSource } from '../../src/server/sources';

interface World {
  failures: string[];
  lost: number;
  failingRules: string[];
  target: Partial<TargetStats>;
  dropped: number;
  tlsFailures: TlsFailure[];
}

function setup() {
  const world: World = { failures: [], lost: 0, failingRules: [], target: {}, dropped: 0, tlsFailures: [] };
  let now = 1_000_000;
  const health: HealthSource = {
    engineStats: () => ({ failures: [...world.failures], droppedEvents: 0 }) as unknown as EngineStats,
    captureStats: () => ({ lost: { total: world.lost, byReason: { ringbuf_full: world.lost } } }) as unknown as CaptureStats,
    alerting: () => ({
      stats: { failingRules: world.failingRules } as unknown as AlertingStats,
      targets: [{ name: 'am', kind: 'alertmanager', url: 'http://am', sent: 0, failed: 0, queued: 0, dropped: 0, ...world.target }],
    }),
    forwarding: () => ({ targets: [{ name: 'mimir', samplesDropped: world.dropped }] }) as unknown as ForwarderStats,
    tlsFailures: () => [...world.tlsFailures],
  };
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({ level: 'info', format: 'json' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const watch = startHealthLog(health, log, now, () => now, 3_600_000);
  t.teardown(() => watch.stop());
  const sample = (advanceMs = 5_000): string[] => {
    now += advanceMs;
    const before = lines.length;
    watch.sample();
    return lines.slice(before).map((l) => `${l.level} ${l.msg}`);
  };
  return { world, sample };
}

t.test('nothing wrong: nothing logged, sample after sample', async (t) => {
  const { sample } = setup();
  for (let i = 0; i < 20; i++) t.same(sample(), []);
});

t.test('engine failures: each new kind once (its first line); the same again is silent', async (t) => {
  const { world, sample } = setup();
  world.failures.push('TypeError: x is undefined\n    at processor.js:3');
  t.same(sample(), ['error engine: TypeError: x is undefined']);
  world.failures.push('TypeError: x is undefined\n    at processor.js:3');
  t.same(sample(), [], 'the same failure again');
  world.failures.push('shard worker exited with code 1');
  t.same(sample(), ['error engine: shard worker exited with code 1']);
});

t.test('losses: a few are quiet; past the threshold a warning, silence while they go on, a line when a minute passes without', async (t) => {
  const { world, sample } = setup();
  world.lost = LOSS_WARNING_PER_MINUTE - 1;
  t.same(sample(), [], 'below the threshold: /api/health says degraded, the log stays quiet');
  world.lost = LOSS_WARNING_PER_MINUTE + 10;
  t.same(sample(), [`warn exchanges lost: ${LOSS_WARNING_PER_MINUTE + 10} in the last minute (see http_tracer_events_lost_total)`]);
  world.lost = 5000;
  t.same(sample(), []);
  world.lost = 9000;
  t.same(sample(), []);
  // No new loss: the window forgets the old ones after a minute.
  const after: string[] = [];
  for (let i = 0; i < 14; i++) after.push(...sample());
  t.same(after, ['info no exchange lost in the last minute']);
});

t.test('alert rules, notification targets, forwarding queues: failing once, recovered once', async (t) => {
  const { world, sample } = setup();
  world.failingRules = ['slow: no such family'];
  world.target = { lastError: 'HTTP 503', lastErrorAt: 10 };
  world.dropped = 100;
  t.same(sample().sort(), ['warn alert rules failing to evaluate: slow: no such family', 'warn forwarding queue of mimir full: its oldest rollups are dropped', 'warn notifications to am failing: HTTP 503'].sort());
  world.dropped = 200;
  world.target = { lastError: 'HTTP 503: request 2', lastErrorAt: 15 };
  t.same(sample(), [], 'still the same troubles (another error text is not news)');
  world.failingRules = [];
  world.target = { lastError: 'HTTP 503', lastErrorAt: 10, lastSuccessAt: 20 };
  t.same(sample().sort(), ['info every alert rule evaluates again', 'info forwarding queue of mimir no longer dropping', 'info notifications to am delivered again'].sort());
  t.same(sample(), []);
});

t.test('TLS libraries that could not be probed: each path once, with its error', async (t) => {
  const { world, sample } = setup();
  world.tlsFailures.push({ path: '/usr/lib/libssl.so.3', error: 'EPERM' });
  t.same(sample(), ['warn https not captured from /usr/lib/libssl.so.3: its uprobes could not be attached: EPERM']);
  t.same(sample(), [], 'the same failure on the next sample');
  world.tlsFailures.push({ path: '/opt/app/node', error: 'ENOENT' });
  t.same(sample(), ['warn https not captured from /opt/app/node: its uprobes could not be attached: ENOENT'], 'a new path: its own line');
});
