/**
 * Real peers for the kernel tests of hard cases: children that talk over
 * stdin/stdout lines (a Python thread-per-connection server, a blocking
 * Python client), redis-server, a TCP echo server, and child-process clients
 * that pipeline or send non-HTTP bytes. Each is its own process, so the agent
 * traces it (the test process itself is excluded). Every child is killed when
 * the test process exits; every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { FIXTURES, run, sleep, waitForPort } from './kernel';

/** The system Python: its http.server is the thread-per-connection peer. */
export const PYTHON = '/usr/bin/python3';

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** n distinct free loopback ports (all held at once while they are picked). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const server = net.createServer();
      server.listen(0, host, () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** A child whose stdout is read as lines and whose stdin takes commands. */
export class LineChild {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  private consumed = 0;
  stderr = '';

  constructor(cmd: string, args: string[]) {
    this.process = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(this.process);
    this.process.on('exit', () => children.delete(this.process));
    let partial = '';
    this.process.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
    });
    this.process.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.process.stdin!.on('error', () => {});
  }

  send(line: string): void {
    this.process.stdin!.write(line + '\n');
  }

  /** The next line not yet taken (in order); throws with what the child said on timeout. */
  async nextLine(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.consumed >= this.lines.length) {
      if (Date.now() > deadline || this.process.exitCode !== null) {
        throw new Error(`no line from ${this.process.spawnfile} within ${timeoutMs} ms (exit ${this.process.exitCode}); stderr: ${this.stderr}`);
      }
      await sleep(10);
    }
    return this.lines[this.consumed++];
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((r) => this.process.once('exit', r));
    this.process.kill('SIGKILL');
    await exited;
  }
}

export interface AccessLine {
  method: string;
  target: string;
  status: number;
}

/** test/fixtures/py-server.py on host:port; its stdout lines after "listening" are its access log. */
export async function pythonServer(port: number, host = '127.0.0.1'): Promise<LineChild & { accessLog(): AccessLine[] }> {
  const child = new LineChild(PYTHON, [path.join(FIXTURES, 'py-server.py'), String(port), host]);
  const first = await child.nextLine(10_000);
  if (first !== 'listening') throw new Error(`py-server said ${first}`);
  await waitForPort(port, host);
  return Object.assign(child, { accessLog: () => child.lines.slice(1).map((l) => JSON.parse(l) as AccessLine) });
}

export interface PyClientResult {
  target: string;
  status: number;
  written: number;
  read: number;
}

/** test/fixtures/py-client.py: one keep-alive connection, a request per command. */
export async function pythonClient(port: number, host = '127.0.0.1'): Promise<LineChild & { request(line: string): void; result(): Promise<PyClientResult> }> {
  const child = new LineChild(PYTHON, [path.join(FIXTURES, 'py-client.py'), String(port), host]);
  const first = await child.nextLine(10_000);
  if (first !== 'connected') throw new Error(`py-client said ${first}`);
  return Object.assign(child, {
    request: (line: string) => child.send(line),
    result: async () => JSON.parse(await child.nextLine(15_000)) as PyClientResult,
  });
}

/** redis-server from Debian in the foreground on 127.0.0.1:port, no persistence. */
export async function redisServer(port: number): Promise<LineChild> {
  const child = new LineChild('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', '/tmp']);
  await waitForPort(port).catch((e: Error) => {
    throw new Error(`${e.message}; redis-server said: ${child.lines.join('\n')} ${child.stderr}`);
  });
  return child;
}

/** test/fixtures/echo-server.js on 127.0.0.1:port. */
export async function echoServer(port: number): Promise<LineChild> {
  const child = new LineChild(process.execPath, [path.join(FIXTURES, 'echo-server.js'), String(port)]);
  await child.nextLine(10_000);
  await waitForPort(port);
  return child;
}

export interface PipelineResult {
  written: number;
  read: number;
  /** Bytes received past the last parsed response (0 when all is well). */
  leftover: number;
  responses: { status: number; bytes: number }[];
}

/** test/fixtures/pipeline-client.js: all requests in one write, reads every response. */
export async function pipelineClient(port: number, requests: string[], host = '127.0.0.1'): Promise<PipelineResult> {
  const r = await run(process.execPath, [path.join(FIXTURES, 'pipeline-client.js'), String(port), host, JSON.stringify(requests)], 30_000);
  if (r.code !== 0) throw new Error(`pipeline-client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as PipelineResult;
}

export interface LineStep {
  send: Buffer | string;
  /** The exact reply to wait for. */
  expect: Buffer | string;
}

/** test/fixtures/line-client.js: connections one after another, each a list of write/reply steps. */
export async function lineClient(port: number, connections: LineStep[][]): Promise<{ connections: number; written: number; read: number }> {
  const b64 = (v: Buffer | string) => (Buffer.isBuffer(v) ? v : Buffer.from(v, 'latin1')).toString('base64');
  const plan = { port, host: '127.0.0.1', connections: connections.map((steps) => steps.map((s) => ({ send: b64(s.send), expect: b64(s.expect) }))) };
  const r = await run(process.execPath, [path.join(FIXTURES, 'line-client.js'), JSON.stringify(plan)], 30_000);
  if (r.code !== 0) throw new Error(`line-client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
