/**
 * `run`: the agent on its HTTP port (REST under /api, /metrics), until
 * Ctrl-C. `demo`: the same plus the bundled demo service and load, with a
 * live line per exchange so a newcomer sees traffic at once.
 *
 * Order matters: the whole configuration is checked first (keys, values, the
 * port), then the agent starts (its capture checks privileges before loading
 * anything), and only then do the demo's service and load start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { checkServerConfig, startAgent } from '../agent/agent';
import { planAlerting } from '../agent/alerting-part';
import { planForwarding } from '../agent/forwarding-part';
import { loadAddon } from '../capture/addon-load';
import { wallMinusMonotonicNs } from '../capture/clock';
import { loadAnalyticsOptions } from '../config/analytics-config';
import { TracerError } from '../errors';
import { exchangeFilter, type ParsedCaptureValues } from './options';
import { batchPrinter, logOf, lossSummary, startCapture, traceCommand, type Io } from './trace';

export const DEMO_PORT = 8090;

export interface RunValues extends ParsedCaptureValues {
  config?: string;
  'data-dir'?: string;
}

function child(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(__dirname, '..', 'demo', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** The demo service, once it says it listens (so the load's first requests find it). */
async function demoService(): Promise<ChildProcess> {
  const service = child('service.js', [String(DEMO_PORT)]);
  await new Promise<void>((resolve, reject) => {
    service.stdout!.once('data', () => resolve());
    service.once('exit', (code) => reject(new TracerError('HT_ERR_PRECONDITION', `demo: the service on 127.0.0.1:${DEMO_PORT} exited (${code}) before listening`)));
  });
  service.stdout!.resume();
  return service;
}

export async function runCommand(values: RunValues, io: Io, demo: boolean): Promise<number> {
  const log = logOf(io);
  const config = loadAnalyticsOptions(values.config, process.env, { dataDir: values['data-dir'] });
  if (!config.enableAnalytics) {
    log.warn('analytics disabled (enable_analytics: false): tracing only, no HTTP port');
    return traceCommand(values, io);
  }
  await checkServerConfig(config);
  // Alert rules, notification and forwarding targets: a bad one stops here (exit code 2), before the addon loads.
  planAlerting(config, process.env);
  planForwarding(config, process.env);
  const offsetNs = wallMinusMonotonicNs(loadAddon());
  const children: ChildProcess[] = [];
  try {
    const printer = demo ? batchPrinter(exchangeFilter(values), values.json ?? false, () => offsetNs, io.stdout, true) : undefined;
    // The agent's own port is left out, so its clients (browsers, Prometheus) are not
    // counted as traffic (its own side of those exchanges is excluded with its pid).
    const captureValues: RunValues = values.port?.length ? values : { ...values, 'not-port': [...(values['not-port'] ?? []), String(config.server.port)] };
    const agent = await startAgent({
      config,
      clockOffsetMs: Number(offsetNs) / 1e6,
      startCapture: (onBatch) => startCapture(captureValues, io, onBatch),
      alsoOnBatch: printer ? (batch) => void printer.print(batch) : undefined,
      log,
    });
    // The service and its load start once every probe is attached (so their first requests
    // are seen), and never when capture cannot run here.
    if (demo) {
      children.push(await demoService());
      children.push(child('load.js', [String(DEMO_PORT), '20']));
      log.info({ port: DEMO_PORT }, `demo: service on 127.0.0.1:${DEMO_PORT}, load about 20 requests/s`);
    }
    log.info({ url: agent.url }, `agent: REST API ${agent.url}/api/metrics, Prometheus ${agent.url}${config.server.metricsPath}`);
    await io.stopRequested;
    log.info('stopping');
    await agent.stop();
    const e = agent.engine.stats();
    log.info({ processed: e.eventsProcessed, dropped: e.droppedEvents }, `stopped: ${lossSummary(agent.capture.stats())}; engine processed ${e.eventsProcessed}, dropped ${e.droppedEvents}`);
    return 0;
  } finally {
    for (const c of children) c.kill();
  }
}
