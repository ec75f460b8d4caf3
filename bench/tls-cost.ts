/**
 * What HTTPS capture costs, beside plaintext on the same server: nginx
 * (libssl.so.3, SSL_read/SSL_write) serves `return 200` on an http and an
 * https port, wrk (libssl.so.3 too) loads each in turn, untraced and then
 * with a running agent (`record`, TLS uprobes on). Reports, per scheme:
 *   - BPF time per captured exchange side (kernel.bpf_stats_enabled, every
 *     program of the agent: syscall tracepoints, uprobes, the framing), and
 *     ns per run of each program;
 *   - wrk's throughput traced against untraced: this includes what bpf_stats
 *     does not see, the uprobe breakpoint traps themselves;
 *   - the traps alone: a Python loop of SSL_write_ex + SSL_read_ex between
 *     two memory BIOs (no socket, so nothing is framed), µs per pair of
 *     calls untraced and traced (four traps per pair: entry and return).
 *
 *   node dist-bench/bench/tls-cost.js [--seconds 5] [--connections 8] [--rounds 1]
 *   (npm run bench:build first; root and a built tree)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, run, sleep, startChild, stopChild, waitForPort } from '../test/helpers/kernel';
import { enableBpfStats, listPrograms } from './bpf-stats';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '1' },
  },
});
const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'http-tracer.js');


/**
 * TLS uprobes of other agents on this machine (tests of other trees): they
 * trap in every process that maps the same library, so "untraced" would not be.
 */
async function foreignTlsProbes(): Promise<number> {
  let n = 0;
  // The previous agent's programs are freed shortly after it exits.
  for (let i = 0; i < 15; i++) {
    n = (await listPrograms()).filter((p) => p.name === 'tls_return').length;
    if (n === 0) break;
    await sleep(200);
  }
  return n;
}

/** The ids of the BPF programs a process holds open (its fdinfo shows prog_id for each). */
function programIdsOf(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    const m = /^prog_id:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    if (m) ids.add(Number(m[1]));
  }
  return ids;
}

/**
 * Run statistics of the agent's own programs, by name: other agents may run
 * on this machine at the same time (programs of the same names), so the
 * agent's are told by the file descriptors it holds.
 */
async function programs(agentPid: number): Promise<Map<string, { ns: number; runs: number }>> {
  const ids = programIdsOf(agentPid);
  const out = new Map<string, { ns: number; runs: number }>();
  for (const p of await listPrograms()) {
    if (ids.has(p.id)) out.set(p.name, { ns: p.run_time_ns ?? 0, runs: p.run_cnt ?? 0 });
  }
  return out;
}

async function wrk(url: string): Promise<number> {
  const r = await run('wrk', ['-t1', `-c${values.connections}`, `-d${values.seconds}s`, url]);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  if (!requests) throw new Error(`wrk ${url}: ${r.stdout}${r.stderr}`);
  return requests;
}

/** nginx with `return 200` on an http port and an https port (self-signed certificate). */
async function startNginx(dir: string, http: number, https: number): Promise<ChildProcess> {
  const cert = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost']);
  if (cert.code !== 0) throw new Error(`openssl req: ${cert.stderr}`);
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${http};
    listen 127.0.0.1:${https} ssl;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    location / { return 200 "dynamic\\n"; }
  }
}
`,
  );
  const nginx = startChild('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')]);
  await waitForPort(http);
  await waitForPort(https);
  return nginx;
}

// One TLS record each way per iteration, between two SSL objects over memory BIOs.
const CALL_LOOP = `
import ssl, sys, time
server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server.load_cert_chain(sys.argv[1] + '/cert.pem', sys.argv[1] + '/key.pem')
client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
client.check_hostname = False
client.verify_mode = ssl.CERT_NONE
ci, co, si, so = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
c, s = client.wrap_bio(ci, co), server.wrap_bio(si, so, server_side=True)
for _ in range(10):
    for o in (c, s):
        try:
            o.do_handshake()
        except ssl.SSLWantReadError:
            pass
    si.write(co.read())
    ci.write(so.read())
time.sleep(1)  # a new process: the agent attaches within its notice interval
n = 20000
start = time.perf_counter()
for _ in range(n):
    c.write(b'x')
    si.write(co.read())
    s.read(10)
print((time.perf_counter() - start) / n * 1e6)
`;

/** µs per SSL_write_ex + SSL_read_ex pair, the best of three runs. */
async function callPairUs(dir: string): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await run('/usr/bin/python3', ['-c', CALL_LOOP, dir]);
    if (r.code !== 0) throw new Error(`the call loop failed: ${r.stderr}`);
    runs.push(Number(r.stdout));
  }
  return Math.min(...runs);
}

async function agentStarted(agent: ChildProcess): Promise<void> {
  let out = '';
  agent.stderr?.on('data', (d) => (out += d));
  while (!out.includes('capturing:')) {
    if (agent.exitCode !== null) throw new Error(`the agent exited: ${out}`);
    await sleep(20);
  }
}

(async () => {
  const restoreStats = enableBpfStats();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-cost-'));
  fs.chmodSync(dir, 0o755);
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const nginx = await startNginx(dir, httpPort, httpsPort);
  const summary: string[] = [];
  try {
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const [scheme, port] of [['http', httpPort], ['https', httpsPort]] as const) {
        const url = `${scheme}://127.0.0.1:${port}/`;
        const foreign = await foreignTlsProbes();
        if (foreign > 0) summary.push(`(${scheme}: ${foreign} other agent(s) with TLS uprobes loaded: the untraced run traps too)`);
        const untraced = await wrk(url);
        const file = path.join(dir, 'capture.htcap');
        const agent = spawn(process.execPath, [BIN, 'record', file], { stdio: ['ignore', 'ignore', 'pipe'] });
        try {
          await agentStarted(agent);
          await sleep(500); // the TLS objects are attached right after start
          const before = await programs(agent.pid!);
          const requests = await wrk(url);
          await sleep(300);
          const after = await programs(agent.pid!);
          const rows = [...after]
            .map(([name, a]) => ({ name, runs: a.runs - (before.get(name)?.runs ?? 0), ns: a.ns - (before.get(name)?.ns ?? 0) }))
            .filter((r) => r.runs > 0)
            .sort((x, y) => y.ns - x.ns);
          const totalNs = rows.reduce((s, r) => s + r.ns, 0);
          process.stdout.write(`-- ${scheme}\n`);
          for (const r of rows) {
            process.stdout.write(`${r.name.padEnd(20)} ${String(r.runs).padStart(9)} runs ${(r.ns / r.runs).toFixed(0).padStart(6)} ns/run ${(r.runs / requests).toFixed(2).padStart(6)} runs/request\n`);
          }
          const perSide = totalNs / (requests * 2);
          summary.push(
            `${scheme.padEnd(5)} BPF ${perSide.toFixed(0)} ns per exchange side; wrk ${(untraced / Number(values.seconds)).toFixed(0)}/s untraced, ` +
              `${(requests / Number(values.seconds)).toFixed(0)}/s traced (${(requests / untraced).toFixed(2)})`,
          );
        } finally {
          const exited = new Promise((r) => agent.once('exit', r));
          agent.kill('SIGINT');
          await exited;
          fs.rmSync(file, { force: true });
        }
      }
    }
    const foreign = await foreignTlsProbes();
    if (foreign > 0) summary.push(`(call loop: ${foreign} other agent(s) with TLS uprobes loaded: the untraced run traps too)`);
    const untracedUs = await callPairUs(dir);
    const agent = spawn(process.execPath, [BIN, 'record', path.join(dir, 'capture.htcap')], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await agentStarted(agent);
      const tracedUs = await callPairUs(dir);
      summary.push(`traps SSL_write_ex + SSL_read_ex over memory BIOs: ${untracedUs.toFixed(2)} µs per pair untraced, ${tracedUs.toFixed(2)} µs traced (+${((tracedUs - untracedUs) / 4).toFixed(2)} µs per uprobe or uretprobe hit)`);
    } finally {
      const exited = new Promise((r) => agent.once('exit', r));
      agent.kill('SIGINT');
      await exited;
    }
    process.stdout.write(summary.join('\n') + '\n');
  } finally {
    await stopChild(nginx);
    fs.rmSync(dir, { recursive: true, force: true });
    restoreStats();
  }
})().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
