/**
 * The npm package as a user gets it: `npm pack` (which builds the prebuilt
 * addon, prepack), then `npm install -g` of the tarball into a fresh prefix
 * and `http-tracer check` and `trace` from there, all on a view of this
 * machine where no compiler, make, bpftool or libbpf exists: each command
 * runs in its own mount namespace (unshare) with empty files and folders
 * mounted over clang, gcc, make, bpftool, binutils, libbpf-dev's headers and
 * every libbpf library, the shared one included, so the prebuilt addon has to
 * carry libbpf itself. Also: what the tarball holds, `run` from the prefix,
 * and the install script's message when no prebuilt fits and nothing can
 * build one.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { fileSkipReason, freePort, kernelSkipReason, nodeClient, nodeServer, sleep, stopChild, tally, waitForPort } from '../helpers/kernel';
import { packageRoot } from '../../src/package-root';

const ROOT = packageRoot(__dirname);
const skip = kernelSkipReason() || fileSkipReason('/usr/bin/unshare', 'util-linux');

// npm pack builds the prebuilt addon (about a minute on a busy machine the first time), then
// an install, a capture, an agent start and a rebuild: more than the suite's 180 s per file under load.
t.setTimeout(300_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'npm-install-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const prefix = path.join(tmp, 'prefix');
const bin = path.join(prefix, 'bin', 'http-tracer');
const installed = path.join(prefix, 'lib', 'node_modules', 'ebpf-http-tracer');

/**
 * Run as `bash -c HIDE hide COMMAND ARGS...` inside `unshare --mount`: hides the
 * toolchain and libbpf (an empty file over each program or library, an empty
 * folder over each folder; symlinks resolved, so every name of one is hidden),
 * then execs the command, which keeps the pid (signals reach it).
 */
const HIDE = `
set -e
empty_file=$(mktemp) empty_dir=$(mktemp -d)
hide() {
  for p in "$@"; do
    [ -e "$p" ] || continue
    real=$(readlink -f "$p")
    if [ -d "$real" ]; then mount --bind "$empty_dir" "$real"; else mount --bind "$empty_file" "$real"; fi
  done
}
for c in clang clang++ gcc g++ cc c++ cpp make bpftool ld as; do
  p=$(command -v "$c") && hide "$p" || true
done
hide /usr/lib/llvm-* /usr/lib/gcc /usr/include/bpf /usr/lib/*-linux-gnu/libbpf.* /usr/lib64/libbpf.*
exec "$@"
`;

/** What the hidden view shows of each tool: one line each. */
const PROBE_TOOLS = `
for c in clang gcc g++ cc make bpftool; do
  if "$c" --version >/dev/null 2>&1; then echo "$c: runs"; else echo "$c: unavailable"; fi
done
[ -s /usr/include/bpf/libbpf.h ] && echo "bpf/libbpf.h: present" || echo "bpf/libbpf.h: hidden"
python3 -c 'import ctypes; ctypes.CDLL("libbpf.so.1")' 2>/dev/null && echo "libbpf.so.1: loads" || echo "libbpf.so.1: does not load"
`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exec(cmd: string, args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const UNSHARE = ['--mount', '--propagation', 'private', 'bash', '-c', HIDE, 'hide'];

/** The environment of the hidden commands: their temporary files (the empty ones mounted too) in the test's folder. */
function hiddenEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, TMPDIR: tmp, ...extra };
}

/** A command on the view of the machine without the toolchain. */
function hidden(cmd: string, args: string[], timeoutMs?: number): Promise<Result> {
  return exec('unshare', [...UNSHARE, cmd, ...args], { timeoutMs, env: hiddenEnv() });
}

function npmInstall(prefix: string, tarball: string): Promise<Result> {
  return hidden('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], 120_000);
}

interface PackReport {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string }[];
}
let pack: PackReport;
let tarball: string;

t.before(async () => {
  if (skip) return;
  const r = await exec('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: ROOT, timeoutMs: 170_000 });
  if (r.code !== 0) throw new Error(`npm pack failed (${r.code}): ${r.stderr}`);
  [pack] = JSON.parse(r.stdout) as PackReport[];
  tarball = path.join(tmp, pack.filename);
});

t.test('the tarball: what a user runs and a source build needs, no tests, benches or sources', { skip }, async (t) => {
  const files = pack.files.map((f) => f.path);
  for (const f of [
    'package.json', 'README.md', 'LICENSE', 'bin/http-tracer.js', 'dist/cli/main.js', 'dashboard/index.html',
    'prebuilds/linux-x64/ebpf-http-tracer.node', 'binding.gyp', 'native/addon.cc', 'bpf/Makefile', 'bpf/http_tracer.bpf.c',
    'bpf/include/http_tracer.h', 'scripts/install.js', 'scripts/addon-link-flags.js', '.prebuild-installrc',
    'prebuilds/better-sqlite3/better-sqlite3-v12.11.1-node-v115-linux-x64.tar.gz', 'node_modules/better-sqlite3/package.json',
    'node_modules/fastify/package.json',
  ]) {
    t.ok(files.includes(f), f);
  }
  t.same(files.filter((f) => /^(test|bench|docs|deploy|src|dist-bench|build|bpf\/\.output)\//.test(f) || /\.(map|d\.ts|ts)$/.test(f) && !f.startsWith('node_modules/')), [], 'no tests, benches, docs, sources, maps or build outputs');
  const stale = files.filter((f) => f.startsWith('dist/')).filter((f) => !fs.existsSync(path.join(ROOT, 'src', f.slice('dist/'.length).replace(/\.js$/, '.ts'))));
  t.same(stale, [], 'every file in dist/ is compiled from a file of src/');
  t.comment(`tarball ${pack.size} bytes, ${pack.entryCount} files, ${pack.unpackedSize} bytes unpacked`);
});

t.test('the hidden view: no compiler, make, bpftool or libbpf', { skip }, async (t) => {
  const r = await hidden('bash', ['-c', PROBE_TOOLS]);
  t.equal(r.code, 0, r.stderr);
  t.equal(
    r.stdout,
    ['clang', 'gcc', 'g++', 'cc', 'make', 'bpftool'].map((c) => `${c}: unavailable\n`).join('') + 'bpf/libbpf.h: hidden\nlibbpf.so.1: does not load\n',
  );
});

t.test('npm install -g of the tarball, then check and trace from its prefix', { skip }, async (t) => {
  const started = Date.now();
  const install = await npmInstall(prefix, tarball);
  t.equal(install.code, 0, install.code === 0 ? 'npm install -g exits 0' : install.stdout + install.stderr);
  t.comment(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.notMatch(install.stderr, /EBADENGINE/, 'no dependency refuses this Node');
  t.notOk(fs.existsSync(path.join(installed, 'build')), 'no build from source: the prebuilt loaded');
  const sqlite = path.join(installed, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  t.ok(fs.existsSync(sqlite), 'better-sqlite3\'s install script put its binary in place from the local prebuild');
  const resolved = await hidden(process.execPath, ['-p', `require(${JSON.stringify(path.join(installed, 'node_modules', 'node-gyp-build'))}).path(${JSON.stringify(installed)})`]);
  t.equal(resolved.stdout.trim(), path.join(installed, 'prebuilds', 'linux-x64', 'ebpf-http-tracer.node'), 'node-gyp-build picks the prebuilt');

  const check = await hidden(bin, ['check']);
  t.equal(check.code, 0, check.code === 0 ? 'check exits 0' : check.stdout + check.stderr);
  t.match(check.stdout, /^probes\s+yes\s+(\d+)\/\1 attached$/m);
  t.match(check.stdout, /capture can run on this machine/);

  const port = await freePort();
  const server = await nodeServer(port);
  t.teardown(() => stopChild(server));
  const trace = spawn('unshare', [...UNSHARE, bin, 'trace', '--json', '--port', String(port)], { env: hiddenEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  trace.stdout.on('data', (d) => (stdout += d));
  trace.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => trace.once('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  while (!stderr.includes('capturing:')) {
    if (Date.now() > deadline || trace.exitCode !== null) throw new Error(`trace never said "capturing:": ${stderr}`);
    await sleep(20);
  }
  const requests = [
    { method: 'GET', path: '/hello' },
    { method: 'GET', path: '/hello' },
    { method: 'GET', path: '/missing' },
    { method: 'POST', path: '/echo', body: 'payload' },
    { method: 'GET', path: '/fail' },
  ];
  const results = await nodeClient(port, true, requests);
  t.same(results.map((r) => r.status), [200, 200, 404, 200, 500]);
  await sleep(500);
  trace.kill('SIGINT');
  t.equal(await exited, 0, stderr);

  const exchanges = stdout.trim().split('\n').map((l) => JSON.parse(l) as { direction: string; method: string; target: string; status: number });
  t.equal(exchanges.length, 2 * requests.length, 'each request seen by the server and by the client');
  const expected = { 'GET /hello 200': 2, 'GET /missing 404': 1, 'POST /echo 200': 1, 'GET /fail 500': 1 };
  for (const direction of ['server', 'client']) {
    t.same(tally(exchanges.filter((e) => e.direction === direction), (e) => `${e.method} ${e.target} ${e.status}`), expected, direction);
  }
});

t.test('run from the prefix: the agent answers its health, dashboard and assets; idle RSS', { skip }, async (t) => {
  t.ok(fs.existsSync(bin), 'installed by the test before');
  const port = await freePort();
  const agent = spawn('unshare', [...UNSHARE, bin, 'run'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: hiddenEnv({
      HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(port),
      HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '127.0.0.1',
      HTTP_TRACER_DATA_DIR: path.join(tmp, 'data'),
    }),
  });
  let stderr = '';
  agent.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
  t.teardown(() => stopChild(agent));
  await waitForPort(port, '127.0.0.1', 30_000).catch((e: Error) => {
    throw new Error(`${e.message}; the agent said: ${stderr}`);
  });
  const url = `http://127.0.0.1:${port}`;
  const health = await fetch(`${url}/api/health`);
  t.equal(health.status, 200, 'GET /api/health');
  const body = (await health.json()) as { status: string; probes: { attached: number; total: number } };
  t.equal(body.status, 'healthy');
  t.equal(body.probes.attached, body.probes.total, `${body.probes.attached}/${body.probes.total} probes attached`);
  const page = await fetch(`${url}/`);
  t.equal(page.status, 200, 'GET / (the dashboard)');
  t.match(await page.text(), /<html/);
  t.equal((await fetch(`${url}/assets/uplot.js`)).status, 200, 'GET /assets/uplot.js (from the uplot package)');

  await sleep(3000);
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${agent.pid}/status`, 'utf8'))?.[1];
  t.comment(`idle RSS of http-tracer run: ${Number(rss) / 1024} MiB`);
  agent.kill('SIGTERM');
  t.equal(await exited, 0, 'exits 0 on SIGTERM');
});

t.test('no prebuilt that fits and no toolchain: the install script fails naming what is missing', { skip }, async (t) => {
  // The installed package again, its prebuilds/ hidden too: npm rebuild runs its install script.
  const r = await hidden('bash', ['-c', `mount --bind "$(mktemp -d)" "${installed}/prebuilds" && exec npm rebuild -g --prefix "${prefix}" ebpf-http-tracer`]);
  t.not(r.code, 0, 'npm rebuild fails');
  const said = (r.stdout + r.stderr).replace(/^npm error /gm, '');
  t.match(said, /ebpf-http-tracer: no prebuilt addon loads on linux-x64 \(No native build was found for platform=linux arch=x64 [^)]*\); building it from source/);
  t.match(
    said,
    'ebpf-http-tracer: cannot build the addon from source; missing:\n' +
      '  clang (clang)\n' +
      '  bpftool (bpftool (Ubuntu: linux-tools-common and linux-tools-$(uname -r)))\n' +
      '  make (make)\n' +
      '  g++ (g++)\n' +
      'ebpf-http-tracer: install these (Debian/Ubuntu package names in parentheses), then run the install again',
  );
});
