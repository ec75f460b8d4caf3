/**
 * The commands a user runs: check, trace (text and JSON, filters, Ctrl-C),
 * record and replay, and their errors.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BIN, freePort, kernelSkipReason, nodeClient, nodeServer, run, sleep, stopChild } from '../helpers/kernel';

const skip = kernelSkipReason();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Running {
  stdout: () => string;
  stderr: () => string;
  interrupt: () => Promise<number | null>;
}

/** Starts the CLI and waits until it says it is capturing. */
async function startCli(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 20_000;
  while (!stderr.includes('capturing:')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no "capturing:" from ${args.join(' ')}: ${stderr}`);
    await sleep(20);
  }
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    interrupt: async () => {
      child.kill('SIGINT');
      return exited;
    },
  };
}

/**
 * Waits until no connection to or from `port` is left but in TIME-WAIT (ss
 * lists neither those nor the listener): both ends have closed, so the
 * kernel has written every close record of them.
 */
async function connectionsClosed(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await run('ss', ['-Htn', `( sport = :${port} or dport = :${port} )`]);
    if (r.code === 0 && r.stdout.trim() === '') return;
    if (Date.now() > deadline) throw new Error(`connections on port ${port} still open after ${timeoutMs} ms: ${r.stdout}${r.stderr}`);
    await sleep(20);
  }
}

t.test('check: a table of checks and probes, exit 0', { skip }, async (t) => {
  const r = await run(process.execPath, [BIN, 'check']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^CHECK\s+OK\s+DETAIL$/m);
  for (const name of ['kernel', 'btf', 'privileges', 'tracefs']) t.match(r.stdout, new RegExp(`^${name}\\s+yes`, 'm'));
  t.match(r.stdout, /^probes\s+yes\s+21\/21 attached$/m);
  t.match(r.stdout, /^exit_writev\s+syscalls\/sys_exit_writev\s+yes$/m);
  t.match(r.stdout, /capture can run on this machine/);

  const json = JSON.parse((await run(process.execPath, [BIN, 'check', '--json'])).stdout);
  t.equal(json.ok, true);
  t.equal(json.probes.length, 21);
});

t.test('trace: one line per exchange, filters, and the loss summary on Ctrl-C', { skip }, async (t) => {
  const port = await freePort();
  const server = await nodeServer(port);
  t.teardown(() => stopChild(server));
  const text = await startCli(['trace', '--port', String(port)]);
  const json = await startCli(['trace', '--json', '--port', String(port), '--status', '4xx', '--comm', 'node']);
  await nodeClient(port, true, [
    { method: 'GET', path: '/hello' },
    { method: 'GET', path: '/missing' },
    { method: 'POST', path: '/echo', body: 'x' },
  ]);
  await connectionsClosed(port); // the closes are counted too
  t.equal(await text.interrupt(), 0, 'exits 0 on Ctrl-C');
  t.equal(await json.interrupt(), 0);

  const lines = text.stdout().trim().split('\n');
  t.equal(lines.length, 6, 'both sides of three requests');
  const server1 = lines.find((l) => / server .* GET \/hello 200 /.test(l));
  t.match(server1, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} ${server.pid}/node server 127\\.0\\.0\\.1:\\d+ GET /hello 200 [\\d.]+(µs|ms) \\d+B/\\d+B$`));
  // Three keep-alive requests on one connection: 6 exchanges, and the connection's connect, accept and two closes.
  t.match(text.stderr(), /stopped: 6 exchanges captured \(0 aborted\) and 4 TCP events, 10 records delivered; lost 0: ringbuf_full=0 /);

  const objects = json.stdout().trim().split('\n').map((l) => JSON.parse(l));
  t.same(objects.map((o) => `${o.direction} ${o.method} ${o.path} ${o.status}`).sort(), ['client GET /missing 404', 'server GET /missing 404']);
  t.equal(objects[0].localAddress, '127.0.0.1');
});

t.test('trace | head: when the reader goes away, trace stops cleanly', { skip }, async (t) => {
  const port = await freePort();
  const server = await nodeServer(port);
  t.teardown(() => stopChild(server));
  const child = spawn(process.execPath, [BIN, 'trace', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const firstLine = new Promise<string>((r) => child.stdout.once('data', (d) => r(String(d))));
  while (!stderr.includes('capturing:')) await sleep(20);
  await nodeClient(port, true, [{ method: 'GET', path: '/hello' }]);
  t.match(await firstLine, /GET \/hello 200/);
  child.stdout.destroy(); // like head exiting after its lines
  await nodeClient(port, true, [{ method: 'GET', path: '/hello' }, { method: 'GET', path: '/hello' }]);
  t.equal(await exited, 0, 'exit 0, no crash');
  t.match(stderr, /stopped: \d+ exchanges captured/);
  t.notMatch(stderr, /Unhandled|EPIPE/);
});

t.test('record, then replay without the kernel: the same exchanges', { skip }, async (t) => {
  const port = await freePort();
  const server = await nodeServer(port);
  t.teardown(() => stopChild(server));
  const file = path.join(tmp, 'capture.htcap');
  const recording = await startCli(['record', file, '--port', String(port)]);
  const trace = await startCli(['trace', '--json', '--port', String(port)]);
  await nodeClient(port, false, [
    { method: 'GET', path: '/hello' },
    { method: 'GET', path: '/fail' },
  ]);
  await connectionsClosed(port);
  t.equal(await recording.interrupt(), 0);
  t.equal(await trace.interrupt(), 0);
  // Two requests, each on its own connection: 4 exchanges and 8 TCP events (connect, accept, two closes each).
  t.match(recording.stderr(), /stopped: 12 records in \d+ frames written to /);

  const replay = await run(process.execPath, [BIN, 'replay', file, '--json']);
  t.equal(replay.code, 0, replay.stderr);
  t.match(replay.stderr, /replayed 12 records in \d+ frames from .*; 4 shown/);
  // Two captures stamp the same syscall a few µs apart (each runs its own
  // programs), and each process adds its own wall-minus-monotonic offset:
  // Date.now() (whole ms) read between two native clock reads, a read a
  // loaded machine can stretch. So times agree within 5 ms (a wrong clock or
  // unit is off by far more), everything else exactly.
  const key = (l: string): string => {
    const o = JSON.parse(l);
    return `${o.direction} ${o.tgid} ${o.localPort} ${o.peerPort} ${o.method} ${o.target} ${o.status} ${o.requestBytes} ${o.responseBytes} ${o.flags}`;
  };
  t.same(replay.stdout.trim().split('\n').map(key).sort(), trace.stdout().trim().split('\n').map(key).sort(), 'replay shows what trace showed');
  const times = (out: string): number[] => out.trim().split('\n').map((l) => Date.parse(JSON.parse(l).time)).sort();
  times(replay.stdout).forEach((ms, i) => t.ok(Math.abs(ms - times(trace.stdout())[i]) <= 5, `wall times agree within 5 ms (${ms - times(trace.stdout())[i]} ms)`));
});

t.test('after a crash (SIGKILL) the kernel detaches everything and capture starts again', { skip }, async (t) => {
  const loadedIds = async (): Promise<Set<number>> =>
    new Set((JSON.parse((await run('bpftool', ['-j', 'prog', 'show'])).stdout) as { id: number }[]).map((p) => p.id));
  /** BPF programs a process holds, from its fds' fdinfo (other tests load programs too). */
  const programsOf = (pid: number): number[] =>
    fs
      .readdirSync(`/proc/${pid}/fdinfo`)
      .map((fd) => /^prog_id:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number);
  const child = spawn(process.execPath, [BIN, 'trace'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  while (!stderr.includes('capturing:')) await sleep(20);
  const held = programsOf(child.pid!);
  t.ok(held.length >= 24, `the agent holds its ${held.length} programs`);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const deadline = Date.now() + 5000;
  let left = held;
  while (left.length > 0 && Date.now() < deadline) {
    const loaded = await loadedIds();
    left = held.filter((id) => loaded.has(id));
    if (left.length) await sleep(100);
  }
  t.same(left, [], 'nothing left loaded by the killed agent');

  const port = await freePort();
  const server = await nodeServer(port);
  t.teardown(() => stopChild(server));
  const again = await startCli(['trace', '--json', '--port', String(port)]);
  await nodeClient(port, true, [{ method: 'GET', path: '/hello' }]);
  await sleep(300);
  t.equal(await again.interrupt(), 0);
  t.equal(again.stdout().trim().split('\n').length, 2, 'the next agent captures both sides');
});

t.test('as an unprivileged user: check and trace exit 1 and say how to fix it', { skip }, async (t) => {
  // Capture has run as root above, so tracefs is mounted: the problem left is privileges.
  const asNobody = { uid: 65534, gid: 65534, encoding: 'utf8' as const };
  const check = spawnSync(process.execPath, [BIN, 'check'], asNobody);
  t.equal(check.status, 1);
  t.match(check.stdout, /^privileges\s+NO\s+uid 65534, CAP_BPF no, CAP_PERFMON no$/m);
  t.match(check.stdout, /^fix privileges: run as root \(sudo\), or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE$/m);
  t.match(check.stdout, /capture cannot run on this machine/);
  const trace = spawnSync(process.execPath, [BIN, 'trace'], asNobody);
  t.equal(trace.status, 1);
  t.match(trace.stderr, /^http-tracer: privileges: uid 65534, CAP_BPF no, CAP_PERFMON no; run as root/m);
  t.equal(trace.stdout, '');

  // record: refused before its file exists (a directory nobody may write to, so only the privilege check stops it).
  const open = path.join(tmp, 'open');
  fs.mkdirSync(open, { mode: 0o777 });
  fs.chmodSync(open, 0o777);
  fs.chmodSync(tmp, 0o755);
  const recording = path.join(open, 'capture.htcap');
  const record = spawnSync(process.execPath, [BIN, 'record', recording], asNobody);
  t.equal(record.status, 1);
  t.match(record.stderr, /^http-tracer: privileges: uid 65534/m);
  t.notOk(fs.existsSync(recording), 'no empty capture file left behind');

  // demo: refused before its demo service starts.
  const port = await freePort();
  const demo = spawnSync(process.execPath, [BIN, 'demo'], { ...asNobody, env: { ...process.env, HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(port) }, timeout: 20_000 });
  t.equal(demo.status, 1, demo.stderr);
  t.match(demo.stderr, /^http-tracer: privileges: uid 65534/m);
  t.notMatch(demo.stderr, /demo: service/, 'the demo service never started');
});

t.test('errors: bad options exit 2 naming the option; a bad capture file exits 1 naming the problem', async (t) => {
  const badPort = await run(process.execPath, [BIN, 'trace', '--port', 'http']);
  t.equal(badPort.code, 2);
  t.match(badPort.stderr, /^http-tracer: --port "http": expected an integer$/m);
  const unknown = await run(process.execPath, [BIN, 'trace', '--bogus']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /Unknown option '--bogus'/);
  const command = await run(process.execPath, [BIN, 'fly']);
  t.equal(command.code, 2);
  t.match(command.stderr, /unknown command "fly"/);
  const junk = path.join(tmp, 'junk.htcap');
  fs.writeFileSync(junk, 'not a capture');
  const replay = await run(process.execPath, [BIN, 'replay', junk]);
  t.equal(replay.code, 1);
  t.match(replay.stderr, /not a capture file/);
  const missing = await run(process.execPath, [BIN, 'replay']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /replay needs a FILE/);
});
