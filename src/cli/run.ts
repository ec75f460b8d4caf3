/**
 * `run`: the agent on its HTTP port (REST under /api, /metrics), until
 * Ctrl-C. `demo`: the same plus the bundled demo service and load, with a
 * live line per exchange so a newcomer sees traffic at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startAgent } from '../agent/agent';
import { loadAddon } from '../capture/addon';
import { wallMinusMonotonicNs } from '../capture/clock';
import { loadAnalyticsOptions } from '../config/analytics-config';
import { exchangeFilter, type ParsedCaptureValues } from './options';
import { batchPrinter, lossSummary, startCapture, traceCommand, type Io } from './trace';

export const DEMO_PORT = 8090;

export interface RunValues extends ParsedCaptureValues {
  config?: string;
}

function child(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(__dirname, '..', 'demo', script), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function runCommand(values: RunValues, io: Io, demo: boolean): Promise<number> {
  const config = loadAnalyticsOptions(values.config, process.env);
  if (!config.enableAnalytics) {
    io.stderr.write('analytics disabled (enable_analytics: false): tracing only, no HTTP port\n');
    return traceCommand(values, io);
  }
  const offsetNs = wallMinusMonotonicNs(loadAddon());
  const children: ChildProcess[] = [];
  try {
    if (demo) {
      children.push(child('service.js', [String(DEMO_PORT)]));
      io.stderr.write(`demo: service on 127.0.0.1:${DEMO_PORT}, load about 20 requests/s\n`);
    }
    const printer = demo ? batchPrinter(exchangeFilter(values), values.json ?? false, () => offsetNs, io.stdout, true) : undefined;
    // The agent's own port is left out, so its clients (browsers, Prometheus) are not
    // counted as traffic (its own side of those exchanges is excluded with its pid).
    const captureValues: RunValues = values.port?.length ? values : { ...values, 'not-port': [...(values['not-port'] ?? []), String(config.server.port)] };
    const agent = await startAgent({
      config,
      clockOffsetMs: Number(offsetNs) / 1e6,
      startCapture: (onBatch) => startCapture(captureValues, io, onBatch),
      alsoOnBatch: printer ? (batch) => void printer.print(batch) : undefined,
    });
    // The load starts once every probe is attached, so its first requests are seen.
    if (demo) children.push(child('load.js', [String(DEMO_PORT), '20']));
    io.stderr.write(`agent: REST API ${agent.url}/api/metrics, Prometheus ${agent.url}${config.server.metricsPath}\n`);
    await io.stopRequested;
    await agent.stop();
    const e = agent.engine.stats();
    io.stderr.write(`stopped: ${lossSummary(agent.capture.stats())}; engine processed ${e.eventsProcessed}, dropped ${e.droppedEvents}\n`);
    return 0;
  } finally {
    for (const c of children) c.kill();
  }
}
