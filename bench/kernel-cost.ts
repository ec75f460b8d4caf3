/**
 * Per-event cost of the BPF programs themselves: the kernel's own run-time
 * statistics (kernel.bpf_stats_enabled) for each program while nginx serves
 * wrk on loopback, first with the empty programs on the same tracepoints
 * (bench/empty-probes/: the floor), then with a running agent (`record`).
 * Reports ns per run of each program and the BPF ns per captured exchange
 * side (server and client side of each request each count once).
 *
 *   npm run bench:kernel -- [--seconds 5] [--connections 32] [--pages dynamic,index] [--rounds 1]
 *                           [--bin A/bin/http-tracer.js,B/bin/http-tracer.js]
 *
 * --bin compares builds (e.g. a git worktree of the previous commit) in the
 * same rounds, alternated: each is measured right after the same floor.
 *
 * Root and a built tree are required. bpf_stats adds its own clock reads
 * (~20-40 ns per run), so the numbers are a slight overestimate; on a loaded
 * machine a preempted program counts its wait too, so compare with the floor
 * measured in the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, run, sleep } from '../test/helpers/kernel';
import { startNginx } from '../test/helpers/nginx';
import { enableBpfStats, listPrograms } from './bpf-stats';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    pages: { type: 'string', default: 'dynamic,index' },
    rounds: { type: 'string', default: '1' },
    bin: { type: 'string' },
  },
});
const ROOT = path.join(__dirname, '..', '..');
const BINS = values.bin ? values.bin.split(',') : [path.join(ROOT, 'bin', 'http-tracer.js')];
const EMPTY_DIR = path.join(ROOT, 'bench', 'empty-probes');
// The size of Debian's default nginx page; /dynamic is nginx's `return 200 "dynamic\n"`.
const PAGE = '<!DOCTYPE html>\n<html><body>' + 'x'.repeat(560) + '</body></html>\n';
const PATHS: Record<string, string> = { dynamic: '/dynamic', index: '/index.html' };

/** Run statistics of the programs that were not loaded before `existing` was taken. */
async function programs(existing: Set<number>): Promise<Map<string, { ns: number; runs: number }>> {
  const out = new Map<string, { ns: number; runs: number }>();
  for (const p of await listPrograms()) {
    if (!existing.has(p.id)) out.set(p.name, { ns: p.run_time_ns ?? 0, runs: p.run_cnt ?? 0 });
  }
  return out;
}

async function started(child: ChildProcess, text: string): Promise<void> {
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  while (!out.includes(text)) {
    if (child.exitCode !== null) throw new Error(`exited: ${out}`);
    await sleep(20);
  }
}

/** wrk against `url` while `child` (already started) has its programs attached; per-program deltas. */
async function measure(url: string, existing: Set<number>, label: string): Promise<{ nsPerSide: number; requests: number }> {
  const before = await programs(existing);
  const wrk = await run('wrk', ['-t1', `-c${values.connections}`, `-d${values.seconds}s`, url]);
  await sleep(300);
  const after = await programs(existing);
  const requests = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1]);
  const rows = [...after].map(([name, a]) => {
    const b = before.get(name) ?? { ns: 0, runs: 0 };
    return { name, runs: a.runs - b.runs, ns: a.ns - b.ns };
  });
  const totalNs = rows.reduce((s, r) => s + r.ns, 0);
  const sides = requests * 2; // server and client side of each request
  process.stdout.write(`-- ${label}\n`);
  for (const r of rows.filter((r) => r.runs > 0).sort((x, y) => y.ns - x.ns)) {
    process.stdout.write(`${r.name.padEnd(16)} ${String(r.runs).padStart(9)} runs ${(r.ns / r.runs).toFixed(0).padStart(6)} ns/run ${(r.runs / requests).toFixed(2).padStart(6)} runs/request\n`);
  }
  process.stdout.write(`wrk ${requests} requests (${(requests / Number(values.seconds)).toFixed(0)}/s); BPF time ${(totalNs / 1e6).toFixed(0)} ms = ${(totalNs / sides).toFixed(0)} ns per exchange side\n`);
  return { nsPerSide: totalNs / sides, requests };
}

async function stop(child: ChildProcess, how: () => void): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  how();
  await exited;
}

(async () => {
  const restoreStats = enableBpfStats();
  const made = await run('make', ['-s', '-C', EMPTY_DIR]);
  if (made.code !== 0) throw new Error(`make -C bench/empty-probes: ${made.stdout}${made.stderr}`);
  const port = await freePort();
  const nginx = await startNginx(port, { 'index.html': PAGE });
  const summary: string[] = [];
  try {
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const page of values.pages.split(',')) {
        const url = `http://127.0.0.1:${port}${PATHS[page]}`;
        let existing = new Set((await listPrograms()).map((p) => p.id));
        const loader = spawn(path.join(EMPTY_DIR, '.output', 'loader'), [path.join(EMPTY_DIR, '.output', 'empty_probes.bpf.o')], { stdio: ['pipe', 'pipe', 'pipe'] });
        let floor;
        try {
          await started(loader, 'attached');
          floor = await measure(url, existing, `${page}: empty programs`);
        } finally {
          await stop(loader, () => loader.stdin?.end());
        }
        const tracers: string[] = [];
        for (const bin of BINS) {
          existing = new Set((await listPrograms()).map((p) => p.id));
          const file = `/tmp/kernel-cost-${process.pid}.htcap`;
          const agent = spawn(process.execPath, [bin, 'record', file], { stdio: ['ignore', 'ignore', 'pipe'] });
          try {
            await started(agent, 'capturing:');
            const traced = await measure(url, existing, `${page}: ${bin} record`);
            tracers.push(`${BINS.length > 1 ? `${bin} ` : 'tracer '}${traced.nsPerSide.toFixed(0)} (above the floor: ${(traced.nsPerSide - floor.nsPerSide).toFixed(0)})`);
          } finally {
            await stop(agent, () => agent.kill('SIGINT'));
            fs.rmSync(file, { force: true });
          }
        }
        summary.push(`${page.padEnd(8)} ns per exchange side: empty ${floor.nsPerSide.toFixed(0)}, ${tracers.join(', ')}`);
      }
    }
    process.stdout.write(summary.join('\n') + '\n');
  } finally {
    await nginx.stop();
    restoreStats();
  }
})().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
