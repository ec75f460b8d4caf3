/**
 * Real-kernel test support: whether eBPF can run here, a capture session that
 * collects exchanges, child processes for servers and clients, and ports.
 * Locally, without root or BTF, kernel tests skip with the reason; under
 * CI=true they always run (and fail with the real error if capture cannot work).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Capture, type CaptureOptions } from '../../src/capture/capture';
import type { Test } from 'tap';
import { decodeExchanges, type Exchange } from '../../src/capture/decoder';
import { packageRoot } from '../../src/package-root';

/** The repository (also when compiled into dist-bench/ for the benchmarks). */
const ROOT = packageRoot(__dirname);
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

export function kernelSkipReason(): string | false {
  if (process.env.CI === 'true') return false;
  if (process.geteuid?.() !== 0) return 'needs root to load eBPF programs (run as root, or under CI=true)';
  if (!fs.existsSync('/sys/kernel/btf/vmlinux')) return 'needs a kernel with BTF (/sys/kernel/btf/vmlinux)';
  return false;
}

/** A file a test needs (a tool, a library): a reason to skip when it is missing, never under CI=true (there it must be installed, and the test fails without it). */
export function fileSkipReason(file: string, from: string): string | false {
  if (process.env.CI === 'true') return false;
  return fs.existsSync(file) ? false : `needs ${file} (${from})`;
}

export class Recorder {
  readonly exchanges: Exchange[] = [];
  readonly capture: Capture;

  constructor(options: CaptureOptions) {
    this.capture = Capture.start(options, (batch) => this.exchanges.push(...decodeExchanges(batch)));
  }

  /** Waits until pred holds over the exchanges so far; throws with what was seen on timeout. */
  async waitFor(pred: (all: Exchange[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.exchanges)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms; captured ${this.exchanges.length}:\n${this.exchanges.map(describe).join('\n')}`);
      }
      await sleep(20);
    }
  }

  /** Waits for at least n exchanges, then a little longer to catch any extra. */
  async waitForCount(n: number, timeoutMs = 5000): Promise<Exchange[]> {
    await this.waitFor((all) => all.length >= n, timeoutMs);
    await sleep(150);
    return this.exchanges;
  }

  stop(): Promise<void> {
    return this.capture.stop();
  }
}

export function describe(e: Exchange): string {
  return `${e.direction} ${e.comm} ${e.method} ${e.target} ${e.status} ${(e.durationNs / 1e6).toFixed(2)}ms ${e.requestBytes}/${e.responseBytes} [${e.flags.join(',')}]`;
}

/** Counts items (exchanges, planned requests) by a key. */
export function tally<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls probe every 250 ms until it gives a value (not undefined) and
 * resolves with it; throws after timeoutMs naming what it waited for and the
 * probe's last error, if it threw.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(250);
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Waits until something accepts TCP connections on host:port. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** A long-running child (a server); killed when the test process exits. */
export function startChild(cmd: string, args: string[], options: { cwd?: string } = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded by timeoutMs). */
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface PlannedRequest {
  method: string;
  path: string;
  body?: string;
}

export interface ClientResult {
  status: number;
  written: number;
  read: number;
}

/** Runs test/fixtures/node-client.js with a plan; returns its per-request results. */
export async function nodeClient(port: number, keepAlive: boolean, requests: PlannedRequest[], host = '127.0.0.1'): Promise<ClientResult[]> {
  const r = await run(process.execPath, [path.join(FIXTURES, 'node-client.js'), JSON.stringify({ port, host, keepAlive, requests })]);
  if (r.code !== 0) throw new Error(`node-client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ClientResult[];
}

export async function nodeServer(port: number, host = '127.0.0.1'): Promise<ChildProcess> {
  const child = startChild(process.execPath, [path.join(FIXTURES, 'node-server.js'), String(port), host]);
  await waitForPort(port, host);
  return child;
}

export interface TracedServer {
  port: number;
  server: ChildProcess;
  recorder: Recorder;
}

/**
 * The usual arrangement of a kernel test: the fixture server on a free port
 * and a capture of that port, both torn down with the test.
 */
export async function tracedServer(t: Test, options: CaptureOptions & { host?: string } = {}): Promise<TracedServer> {
  const { host = '127.0.0.1', ...captureOptions } = options;
  const port = await freePort(host);
  const server = await nodeServer(port, host);
  const recorder = new Recorder({ ports: { allow: [port] }, ...captureOptions });
  t.teardown(async () => {
    await recorder.stop();
    await stopChild(server);
  });
  return { port, server, recorder };
}

export const BIN = path.join(ROOT, 'bin', 'http-tracer.js');

/**
 * `http-tracer COMMAND ARGS` as its own process with its HTTP port on
 * 127.0.0.1:port and its own data directory (a new temporary one unless
 * `env` names one); resolves once the port accepts connections (or says
 * what the agent printed if it never does). Killed when the test process exits.
 */
export async function agentProcess(command: 'run' | 'demo', args: string[], port: number, env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, command, ...args], {
    env: {
      ...process.env,
      HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(port),
      HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '127.0.0.1',
      HTTP_TRACER_ANALYTICS_WORKER_THREADS: '2',
      HTTP_TRACER_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'http-tracer-data-')),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  await waitForPort(port, '127.0.0.1', 20_000).catch((e: Error) => {
    throw new Error(`${e.message}; the agent said: ${stderr}`);
  });
  return { child, url: `http://127.0.0.1:${port}`, stderr: () => stderr };
}
