/**
 * Per-event cost of the BPF programs themselves: the kernel's own run-time
 * statistics (kernel.bpf_stats_enabled) for each program of a running agent
 * while nginx serves wrk on loopback. Reports ns per run of each program and
 * the kernel-side ns per captured exchange.
 *
 *   npm run bench:kernel -- [--seconds 5] [--connections 32]
 *
 * Root and a built tree are required. bpf_stats adds its own clock reads
 * (~20-40 ns per run), so the numbers are a slight overestimate.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, run, sleep } from '../test/helpers/kernel';
import { startNginx } from '../test/helpers/nginx';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '32' } } });
const BIN = path.join(__dirname, '..', '..', 'bin', 'http-tracer.js');
const STATS = '/proc/sys/kernel/bpf_stats_enabled';

interface ProgInfo {
  id: number;
  name: string;
  run_time_ns?: number;
  run_cnt?: number;
}

async function listPrograms(): Promise<ProgInfo[]> {
  return JSON.parse((await run('bpftool', ['-j', 'prog', 'show'])).stdout) as ProgInfo[];
}

/** Run statistics of the programs that were not loaded before the agent started. */
async function programs(existing: Set<number>): Promise<Map<string, { ns: number; runs: number }>> {
  const out = new Map<string, { ns: number; runs: number }>();
  for (const p of await listPrograms()) {
    if (!existing.has(p.id)) out.set(p.name, { ns: p.run_time_ns ?? 0, runs: p.run_cnt ?? 0 });
  }
  return out;
}

(async () => {
  const previous = fs.readFileSync(STATS, 'utf8').trim();
  fs.writeFileSync(STATS, '1');
  const port = await freePort();
  const nginx = await startNginx(port, { 'index.html': 'x'.repeat(615) });
  const file = `/tmp/kernel-cost-${process.pid}.htcap`;
  const existing = new Set((await listPrograms()).map((p) => p.id));
  const agent = spawn(process.execPath, [BIN, 'record', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  agent.stderr?.on('data', (d) => (stderr += d));
  try {
    while (!stderr.includes('capturing:')) await sleep(20);
    const before = await programs(existing);
    const wrk = await run('wrk', ['-t1', `-c${values.connections}`, `-d${values.seconds}s`, `http://127.0.0.1:${port}/index.html`]);
    await sleep(300);
    const after = await programs(existing);
    const requests = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1]);
    const rows = [...after].map(([name, a]) => {
      const b = before.get(name) ?? { ns: 0, runs: 0 };
      return { name, runs: a.runs - b.runs, ns: a.ns - b.ns };
    });
    const totalNs = rows.reduce((s, r) => s + r.ns, 0);
    const exchanges = requests * 2; // server and client side of each request
    for (const r of rows.filter((r) => r.runs > 0).sort((x, y) => y.ns - x.ns)) {
      process.stdout.write(`${r.name.padEnd(16)} ${String(r.runs).padStart(9)} runs ${(r.ns / r.runs).toFixed(0).padStart(6)} ns/run\n`);
    }
    process.stdout.write(`wrk ${requests} requests (${(requests / Number(values.seconds)).toFixed(0)}/s); BPF time ${(totalNs / 1e6).toFixed(0)} ms = ${(totalNs / exchanges).toFixed(0)} ns per exchange captured (server + client side each count)\n`);
  } finally {
    agent.kill('SIGINT');
    await new Promise((r) => agent.once('exit', r));
    fs.rmSync(file, { force: true });
    await nginx.stop();
    fs.writeFileSync(STATS, previous);
  }
})().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
