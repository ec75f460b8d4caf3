/**
 * What capture costs a busy host: nginx on loopback under wrk for a fixed
 * duration, without and with `http-tracer trace` running (output to a file),
 * alternating rounds. Reports the requests/s ratio (traced / untraced), the
 * agent's CPU seconds per 10 000 exchanges, its peak RSS, captured
 * exchanges against wrk's count, and delivered against framed: records the
 * addon handed to JavaScript against exchanges the kernel framed, with the
 * losses by reason (the saturated case: --connections 500 --threads 2).
 *
 *   npm run bench:capture -- [--seconds 10] [--rounds 3] [--connections 32] [--threads 1] [--record | --agent]
 *
 * --record runs `http-tracer record FILE` instead of `trace`: the kernel side
 * and the batch delivery without per-exchange decoding and formatting.
 * --agent runs `http-tracer run`: the whole agent (engine with 2 workers,
 * store, HTTP port), and counts what its REST API reports.
 *
 * Root and a built tree (bash scripts/setup.sh) are required. Traffic stays
 * on 127.0.0.1 and every run is bounded by --seconds.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, run, sleep } from '../test/helpers/kernel';
import { startNginx } from '../test/helpers/nginx';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '32' }, threads: { type: 'string', default: '1' }, record: { type: 'boolean', default: false }, agent: { type: 'boolean', default: false } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const THREADS = Number(values.threads);
const BIN = path.join(__dirname, '..', '..', 'bin', 'http-tracer.js');
const CLOCK_TICKS = 100; // USER_HZ on Linux

// The size of Debian's default nginx page.
const PAGE = '<!DOCTYPE html>\n<html><body>' + 'x'.repeat(560) + '</body></html>\n';

async function wrk(port: number): Promise<{ requests: number; rps: number }> {
  // --timeout: with hundreds of connections on two cores a response can take over wrk's default 2 s.
  const r = await run('wrk', [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--timeout', '10s', `http://127.0.0.1:${port}/index.html`], (SECONDS + 30) * 1000);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  if (!requests || /Non-2xx|Socket errors/.test(r.stdout)) throw new Error(`wrk failed: ${r.stdout}${r.stderr}`);
  return { requests, rps };
}

function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime + stime
}

function peakRssBytes(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(line?.split(/\s+/)[1]) * 1024;
}

interface TracedRound {
  rps: number;
  requests: number;
  serverExchanges: number;
  clientExchanges: number;
  agentCpuSeconds: number;
  peakRssBytes: number;
  lossLine: string;
  delivery: Delivery;
}

/** What the agent's last line says: exchanges the kernel framed, records delivered to JavaScript, losses. */
interface Delivery {
  framed: number;
  delivered: number;
  lost: Record<string, number>;
  /** `run` only: records its engine dropped. */
  engineDropped?: number;
}

function delivery(lossLine: string): Delivery {
  const framed = Number(/(\d+) exchanges captured/.exec(lossLine)?.[1]);
  const delivered = Number(/(\d+) delivered/.exec(lossLine)?.[1]);
  const reasons = /lost \d+: ([^;]*)/.exec(lossLine)?.[1] ?? '';
  const lost = Object.fromEntries(reasons.trim().split(' ').filter(Boolean).map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]));
  const engine = /engine processed \d+, dropped (\d+)/.exec(lossLine);
  if (!Number.isInteger(framed) || !Number.isInteger(delivered)) throw new Error(`no counts in the agent's last line: ${JSON.stringify(lossLine)}`);
  return { framed, delivered, lost, ...(engine ? { engineDropped: Number(engine[1]) } : {}) };
}

async function traced(port: number, out: string): Promise<TracedRound> {
  const fd = fs.openSync(out, 'w');
  const args = values.record ? ['record', `${out}.htcap`] : values.agent ? ['run'] : ['trace'];
  const apiPort = await freePort();
  const env = { ...process.env, HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(apiPort), HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '127.0.0.1', HTTP_TRACER_ANALYTICS_WORKER_THREADS: '2' };
  const agent = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', fd, 'pipe'], env });
  let stderr = '';
  agent.stderr?.on('data', (d) => (stderr += d));
  while (!stderr.includes(values.agent ? 'agent: ' : 'capturing:')) {
    if (agent.exitCode !== null) throw new Error(`trace exited: ${stderr}`);
    await sleep(20);
  }
  const cpuBefore = cpuSeconds(agent.pid!);
  const result = await wrk(port);
  await sleep(values.agent ? 1500 : 500); // the last batches drain (and, for the agent, are published)
  const agentCpuSeconds = cpuSeconds(agent.pid!) - cpuBefore;
  const rss = peakRssBytes(agent.pid!);
  let serverExchanges = 0;
  let clientExchanges = 0;
  if (values.agent) {
    const m = (await (await fetch(`http://127.0.0.1:${apiPort}/api/metrics?window=1m&route=/index.html`)).json()) as { services: { service: string; side: string; requests: number }[] };
    serverExchanges = m.services.find((s) => s.service === `nginx:${port}` && s.side === 'server')?.requests ?? 0;
    clientExchanges = m.services.find((s) => s.service === 'wrk' && s.side === 'client')?.requests ?? 0;
  }
  const exited = new Promise((r) => agent.once('exit', r));
  agent.kill('SIGINT');
  await exited;
  fs.closeSync(fd);
  if (values.record) {
    const replayed = fs.openSync(out, 'w');
    const replay = spawn(process.execPath, [BIN, 'replay', `${out}.htcap`], { stdio: ['ignore', replayed, 'ignore'] });
    await new Promise((r) => replay.once('exit', r));
    fs.closeSync(replayed);
    fs.rmSync(`${out}.htcap`);
  }
  for (const line of values.agent ? [] : fs.readFileSync(out, 'utf8').split('\n')) {
    if (!line.includes(` 127.0.0.1:`) || !line.includes('/index.html 200 ')) continue;
    if (/\/nginx server /.test(line)) serverExchanges++;
    else if (/\/wrk client /.test(line)) clientExchanges++;
  }
  const lossLine = stderr.split('\n').find((l) => l.startsWith('stopped:')) ?? '';
  return { ...result, serverExchanges, clientExchanges, agentCpuSeconds, peakRssBytes: rss, lossLine, delivery: delivery(lossLine) };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  if (process.geteuid?.() !== 0) throw new Error('run as root: the agent loads eBPF programs');
  const port = await freePort();
  const nginx = await startNginx(port, { 'index.html': PAGE });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  try {
    await run('wrk', ['-t1', '-c8', '-d1s', `http://127.0.0.1:${port}/index.html`]); // warm up
    const plain: number[] = [];
    const rounds: TracedRound[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      plain.push((await wrk(port)).rps);
      rounds.push(await traced(port, path.join(dir, `trace-${i}.out`)));
      const r = rounds[i];
      process.stderr.write(`round ${i + 1}: untraced ${plain[i].toFixed(0)} req/s, traced ${r.rps.toFixed(0)} req/s; wrk ${r.requests}, captured server ${r.serverExchanges} client ${r.clientExchanges}; agent ${r.agentCpuSeconds.toFixed(2)} CPU s, peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB; delivered ${r.delivery.delivered} of ${r.delivery.framed} framed\n  ${r.lossLine}\n`);
    }
    const exchanges = rounds.map((r) => r.serverExchanges + r.clientExchanges);
    const report = {
      machine: `${os.cpus().length} cores, Linux ${os.release()}`,
      agent: values.record ? 'record FILE' : values.agent ? 'run (engine, 2 workers, HTTP port)' : 'trace > FILE',
      wrk: `-t${THREADS} -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} rounds, medians`,
      untracedRequestsPerSecond: Math.round(median(plain)),
      tracedRequestsPerSecond: Math.round(median(rounds.map((r) => r.rps))),
      // Each round runs untraced and traced back to back: the ratio per round is
      // robust to the machine's drift between rounds; the median of those is reported.
      throughputRatioPerRound: rounds.map((r, i) => Number((r.rps / plain[i]).toFixed(3))),
      throughputRatio: Number(median(rounds.map((r, i) => r.rps / plain[i])).toFixed(3)),
      agentCpuSecondsPer10kExchanges: Number(median(rounds.map((r, i) => (r.agentCpuSeconds / exchanges[i]) * 10_000)).toFixed(4)),
      agentPeakRssMiB: Math.round(Math.max(...rounds.map((r) => r.peakRssBytes)) / 2 ** 20),
      capturedVersusWrk: rounds.map((r) => ({ wrk: r.requests, server: r.serverExchanges, client: r.clientExchanges })),
      deliveredVersusFramed: rounds.map((r) => ({ ...r.delivery, ratio: Number((r.delivery.delivered / r.delivery.framed).toFixed(4)) })),
    };
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } finally {
    await nginx.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
