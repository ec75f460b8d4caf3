/**
 * How long from the first failed request to the alert in Alertmanager: a
 * real agent (`http-tracer run`, root, real eBPF), the real Alertmanager
 * (Debian's prometheus-alertmanager) and a Node server, one round per fresh
 * agent. The rule fires at the first error (http_errors_total > 0 over 30 s,
 * duration_seconds 0), so what is measured is the pipeline: capture, the
 * shards' publish interval (1 s), the evaluation interval
 * (flush_interval_seconds 1) and delivery. Each round also splits the time
 * at the moment evaluation first saw the error (the instance's
 * active_since).
 *
 *   npm run bench:alert-latency -- [--rounds 5]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startAlertmanager } from '../test/helpers/alertmanager';
import { agentProcess, freePort, nodeClient, nodeServer, sleep, stopChild } from '../test/helpers/kernel';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Number(values.rounds);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const am = await startAlertmanager();
  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alert-latency-'));
  const totals: number[] = [];
  const seen: number[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const name = `latency_${round}`;
      const config = path.join(dir, `config-${round}.json`);
      const rule = { name, metric: 'http_errors_total', condition: 'gt', threshold: 0, duration_seconds: 0, window: '30s', match: { side: 'server' } };
      fs.writeFileSync(config, JSON.stringify({ output: { analytics: { flush_interval_seconds: 1, alert_rules: [rule] } } }));
      const port = await freePort();
      const agent = await agentProcess('run', ['--port', String(serverPort), '--config', config], port, { HTTP_TRACER_ALERTMANAGER_URL: am.url });
      try {
        await sleep(2000); // settled: probes attached, the first evaluations done
        const t0 = Date.now();
        await nodeClient(serverPort, false, [{ method: 'GET', path: '/fail' }]);
        for (;;) {
          if ((await am.alerts({ filter: [`alertname="${name}"`] })).length > 0) break;
          if (Date.now() - t0 > 30_000) throw new Error(`round ${round}: no alert after 30 s; agent: ${agent.stderr()} ${await (await fetch(`${agent.url}/api/health`)).text()} ${await (await fetch(`${agent.url}/api/metrics?window=1m`)).text()}`);
          await sleep(20);
        }
        const total = Date.now() - t0;
        const alerts = (await (await fetch(`${agent.url}/api/alerts`)).json()) as { active: { active_since: string }[] };
        const evaluated = Date.parse(alerts.active[0].active_since) - t0;
        totals.push(total);
        seen.push(evaluated);
        console.log(`round ${round}: ${total} ms to Alertmanager (evaluation saw the error after ${evaluated} ms)`);
      } finally {
        await stopChild(agent.child);
      }
    }
    console.log(`median of ${ROUNDS}: ${median(totals)} ms from the first failed request to Alertmanager; evaluation saw it after ${median(seen)} ms`);
  } finally {
    await stopChild(server);
    await am.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
