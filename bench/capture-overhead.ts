/**
 * What capture costs a busy host: nginx on loopback under wrk, in rounds that
 * alternate four columns back to back —
 *
 *   untraced | empty programs | http-tracer trace | http-tracer run
 *
 * — for two pages: `/dynamic` (`return 200 "dynamic\n"`, nginx's cheapest
 * answer, so the tracer's share is largest) and `/index.html` (Debian's
 * 615-byte default page, served with sendfile). "empty" attaches the same
 * tracepoints as the tracer with programs that only bump a counter
 * (bench/empty-probes/): the floor any tracepoint tracer pays. Ratios are per
 * round (each column against that round's untraced run), medians reported;
 * `trace/empty` is the tracer's own cost above that floor.
 *
 * Also reported per traced column: the agent's CPU seconds per 10 000
 * exchanges, its peak RSS, captured exchanges against wrk's count, and
 * delivered against framed (records handed to JavaScript against exchanges
 * the kernel framed, with the losses by reason).
 *
 *   npm run bench:capture -- [--seconds 10] [--rounds 3] [--connections 32] [--threads 1]
 *                            [--pages dynamic,index] [--columns untraced,empty,trace,run] [--record | --agent]
 *
 * --record adds a `record FILE` column (kernel side and batch delivery without
 * per-exchange formatting); --agent keeps only untraced, empty and run.
 * `run` is the whole agent (engine with 2 workers, store, HTTP port) and counts
 * what its REST API reports.
 *
 * Root, wrk, nginx, clang and a built tree (bash scripts/setup.sh) are
 * required. Traffic stays on 127.0.0.1 and every run is bounded by --seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, run, sleep } from '../test/helpers/kernel';
import { startNginx } from '../test/helpers/nginx';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '1' },
    pages: { type: 'string', default: 'dynamic,index' },
    columns: { type: 'string', default: 'untraced,empty,trace,run' },
    record: { type: 'boolean', default: false },
    agent: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const THREADS = Number(values.threads);
const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'http-tracer.js');
const EMPTY_DIR = path.join(ROOT, 'bench', 'empty-probes');
const CLOCK_TICKS = 100; // USER_HZ on Linux

type Column = 'untraced' | 'empty' | 'trace' | 'run' | 'record';
const COLUMNS: Column[] = values.agent
  ? ['untraced', 'empty', 'run']
  : [...(values.columns.split(',') as Column[]), ...(values.record ? (['record'] as Column[]) : [])];
for (const c of COLUMNS) if (!['untraced', 'empty', 'trace', 'run', 'record'].includes(c)) throw new Error(`unknown column ${c}`);

// The size of Debian's default nginx page.
const PAGE = '<!DOCTYPE html>\n<html><body>' + 'x'.repeat(560) + '</body></html>\n';
const PAGES: Record<string, { path: string; what: string }> = {
  dynamic: { path: '/dynamic', what: 'return 200 "dynamic\\n"' },
  index: { path: '/index.html', what: "Debian's 615-byte index.html (sendfile)" },
};
const pages = values.pages.split(',').map((p) => {
  if (!PAGES[p]) throw new Error(`unknown page ${p}: dynamic or index`);
  return p;
});

async function wrk(port: number, page: string): Promise<{ requests: number; rps: number }> {
  // --timeout: with hundreds of connections on two cores a response can take over wrk's default 2 s.
  const r = await run('wrk', [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--timeout', '10s', `http://127.0.0.1:${port}${PAGES[page].path}`], (SECONDS + 30) * 1000);
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

interface Round {
  rps: number;
  requests: number;
  /** Traced columns only. */
  traced?: {
    serverExchanges: number;
    clientExchanges: number;
    agentCpuSeconds: number;
    peakRssBytes: number;
    lossLine: string;
    delivery: Delivery;
  };
}

/** What the agent's last line says: records the kernel framed (exchanges and TCP events), records delivered to JavaScript, losses. */
interface Delivery {
  framed: number;
  delivered: number;
  lost: Record<string, number>;
  /** `run` only: records its engine dropped. */
  engineDropped?: number;
}

function delivery(lossLine: string): Delivery {
  const framed = Number(/(\d+) exchanges captured/.exec(lossLine)?.[1]) + Number(/(\d+) TCP events/.exec(lossLine)?.[1]);
  const delivered = Number(/(\d+) records delivered/.exec(lossLine)?.[1]);
  const reasons = /lost \d+: ([^;]*)/.exec(lossLine)?.[1] ?? '';
  const lost = Object.fromEntries(reasons.trim().split(' ').filter(Boolean).map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]));
  const engine = /engine processed \d+, dropped (\d+)/.exec(lossLine);
  if (!Number.isInteger(framed) || !Number.isInteger(delivered)) throw new Error(`no counts in the agent's last line: ${JSON.stringify(lossLine)}`);
  return { framed, delivered, lost, ...(engine ? { engineDropped: Number(engine[1]) } : {}) };
}

async function waitFor(child: ChildProcess, output: () => string, text: string, what: string): Promise<void> {
  while (!output().includes(text)) {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${output()}`);
    await sleep(20);
  }
}

/** wrk with the empty programs attached (the loader detaches when its stdin closes). */
async function empty(port: number, page: string): Promise<Round> {
  const loader = spawn(path.join(EMPTY_DIR, '.output', 'loader'), [path.join(EMPTY_DIR, '.output', 'empty_probes.bpf.o')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  loader.stdout?.on('data', (d) => (out += d));
  loader.stderr?.on('data', (d) => (out += d));
  await waitFor(loader, () => out, 'attached', 'empty-probes loader');
  try {
    return await wrk(port, page);
  } finally {
    const exited = new Promise((r) => loader.once('exit', r));
    loader.stdin?.end();
    await exited;
  }
}

async function traced(port: number, page: string, mode: 'trace' | 'run' | 'record', out: string): Promise<Round> {
  const fd = fs.openSync(out, 'w');
  const args = mode === 'record' ? ['record', `${out}.htcap`] : [mode];
  const apiPort = await freePort();
  const env = { ...process.env, HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(apiPort), HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '127.0.0.1', HTTP_TRACER_ANALYTICS_WORKER_THREADS: '2' };
  const agent = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', fd, 'pipe'], env });
  let stderr = '';
  agent.stderr?.on('data', (d) => (stderr += d));
  await waitFor(agent, () => stderr, mode === 'run' ? 'agent: ' : 'capturing:', mode);
  const cpuBefore = cpuSeconds(agent.pid!);
  const result = await wrk(port, page);
  await sleep(mode === 'run' ? 1500 : 500); // the last batches drain (and, for the agent, are published)
  const agentCpuSeconds = cpuSeconds(agent.pid!) - cpuBefore;
  const rss = peakRssBytes(agent.pid!);
  const route = PAGES[page].path;
  let serverExchanges = 0;
  let clientExchanges = 0;
  if (mode === 'run') {
    const m = (await (await fetch(`http://127.0.0.1:${apiPort}/api/metrics?window=1m&route=${encodeURIComponent(route)}`)).json()) as { services: { service: string; side: string; requests: number }[] };
    serverExchanges = m.services.find((s) => s.service === `nginx:${port}` && s.side === 'server')?.requests ?? 0;
    clientExchanges = m.services.find((s) => s.service === 'wrk' && s.side === 'client')?.requests ?? 0;
  }
  const exited = new Promise((r) => agent.once('exit', r));
  agent.kill('SIGINT');
  await exited;
  fs.closeSync(fd);
  if (mode === 'record') {
    const replayed = fs.openSync(out, 'w');
    const replay = spawn(process.execPath, [BIN, 'replay', `${out}.htcap`], { stdio: ['ignore', replayed, 'ignore'] });
    await new Promise((r) => replay.once('exit', r));
    fs.closeSync(replayed);
    fs.rmSync(`${out}.htcap`);
  }
  if (mode !== 'run') {
    for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
      if (!line.includes(` 127.0.0.1:`) || !line.includes(`${route} 200 `)) continue;
      if (/\/nginx server /.test(line)) serverExchanges++;
      else if (/\/wrk client /.test(line)) clientExchanges++;
    }
  }
  fs.rmSync(out, { force: true });
  // The agent's diagnostics are JSON lines on stderr (src/log).
  const messages = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
  const lossLine = messages.find((m) => m.startsWith('stopped:')) ?? '';
  return { ...result, traced: { serverExchanges, clientExchanges, agentCpuSeconds, peakRssBytes: rss, lossLine, delivery: delivery(lossLine) } };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r3 = (x: number): number => Number(x.toFixed(3));

(async () => {
  if (process.geteuid?.() !== 0) throw new Error('run as root: the agent loads eBPF programs');
  if (COLUMNS.includes('empty')) await run('make', ['-s', '-C', EMPTY_DIR]).then((r) => {
    if (r.code !== 0) throw new Error(`make -C bench/empty-probes: ${r.stdout}${r.stderr}`);
  });
  const port = await freePort();
  const nginx = await startNginx(port, { 'index.html': PAGE });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  try {
    for (const page of pages) await run('wrk', ['-t1', '-c8', '-d1s', `http://127.0.0.1:${port}${PAGES[page].path}`]); // warm up
    // results[page][column][round]
    const results: Record<string, Record<string, Round[]>> = {};
    for (const page of pages) results[page] = Object.fromEntries(COLUMNS.map((c) => [c, [] as Round[]]));
    for (let i = 0; i < ROUNDS; i++) {
      for (const page of pages) {
        for (const column of COLUMNS) {
          const r: Round =
            column === 'untraced' ? await wrk(port, page) : column === 'empty' ? await empty(port, page) : await traced(port, page, column, path.join(dir, `${column}-${page}-${i}.out`));
          results[page][column].push(r);
          const t = r.traced;
          process.stderr.write(
            `round ${i + 1} ${page.padEnd(7)} ${column.padEnd(8)} ${r.rps.toFixed(0).padStart(7)} req/s` +
              (t
                ? `; wrk ${r.requests}, captured server ${t.serverExchanges} client ${t.clientExchanges}; agent ${t.agentCpuSeconds.toFixed(2)} CPU s, peak RSS ${(t.peakRssBytes / 2 ** 20).toFixed(0)} MiB; delivered ${t.delivery.delivered} of ${t.delivery.framed} framed\n    ${t.lossLine}`
                : '') +
              '\n',
          );
        }
      }
    }
    const ratio = (page: string, column: string, base: string): number[] =>
      results[page][column].map((r, i) => r.rps / results[page][base][i].rps);
    const report = {
      machine: `${os.cpus().length} cores, Linux ${os.release()}`,
      wrk: `-t${THREADS} -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} rounds alternating ${COLUMNS.join(' / ')}, medians`,
      pages: Object.fromEntries(
        pages.map((page) => {
          const cols = results[page];
          const traced = COLUMNS.filter((c) => c !== 'untraced' && c !== 'empty');
          return [
            page,
            {
              page: PAGES[page].what,
              requestsPerSecond: Object.fromEntries(COLUMNS.map((c) => [c, Math.round(median(cols[c].map((r) => r.rps)))])),
              // Each column against the same round's untraced run: robust to drift between rounds.
              ratioToUntraced: COLUMNS.includes('untraced')
                ? Object.fromEntries(COLUMNS.filter((c) => c !== 'untraced').map((c) => [c, { median: r3(median(ratio(page, c, 'untraced'))), perRound: ratio(page, c, 'untraced').map(r3) }]))
                : undefined,
              // The tracer's own cost above the tracepoint floor (target: trace/empty >= 0.90).
              ratioToEmpty: COLUMNS.includes('empty')
                ? Object.fromEntries(traced.map((c) => [c, { median: r3(median(ratio(page, c, 'empty'))), perRound: ratio(page, c, 'empty').map(r3) }]))
                : undefined,
              agentCpuSecondsPer10kExchanges: Object.fromEntries(
                traced.map((c) => [c, r3(median(cols[c].map((r) => (r.traced!.agentCpuSeconds / Math.max(1, r.traced!.serverExchanges + r.traced!.clientExchanges)) * 10_000)))]),
              ),
              agentPeakRssMiB: Object.fromEntries(traced.map((c) => [c, Math.round(Math.max(...cols[c].map((r) => r.traced!.peakRssBytes)) / 2 ** 20)])),
              capturedVersusWrk: Object.fromEntries(traced.map((c) => [c, cols[c].map((r) => ({ wrk: r.requests, server: r.traced!.serverExchanges, client: r.traced!.clientExchanges }))])),
              deliveredVersusFramed: Object.fromEntries(traced.map((c) => [c, cols[c].map((r) => ({ ...r.traced!.delivery, ratio: r3(r.traced!.delivery.delivered / r.traced!.delivery.framed) }))])),
            },
          ];
        }),
      ),
    };
    // The four columns at a glance, then the whole report.
    const table = [`page      ${COLUMNS.map((c) => c.padStart(10)).join('')}   ${COLUMNS.includes('empty') ? 'trace/empty' : ''}`];
    for (const page of pages) {
      const p = report.pages[page];
      table.push(
        `${page.padEnd(10)}${COLUMNS.map((c) => String(p.requestsPerSecond[c]).padStart(10)).join('')}   ${p.ratioToEmpty?.trace ? p.ratioToEmpty.trace.median.toFixed(3) : ''}  req/s`,
      );
      if (p.ratioToUntraced) table.push(`${''.padEnd(10)}${COLUMNS.map((c) => (c === 'untraced' ? '1.000' : p.ratioToUntraced![c].median.toFixed(3)).padStart(10)).join('')}   of untraced`);
    }
    process.stdout.write(table.join('\n') + '\n' + JSON.stringify(report, null, 2) + '\n');
  } finally {
    await nginx.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
