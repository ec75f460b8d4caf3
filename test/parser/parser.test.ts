/**
 * The kernel's HTTP/1.x framing (bpf/tracer/parser.h, emit.h), built from
 * the same source as a userspace program (harness.c) under AddressSanitizer
 * and UBSan: its state logic, without root. Every property here is about
 * what the kernel would emit for a byte stream, however it is split.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ExchangeFlags, KernelCounters } from '../../src/capture/abi';

const ROOT = path.join(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parser-'));
const harness = path.join(dir, 'harness');
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
execFileSync('gcc', ['-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-Wall', '-Werror',
  `-I${ROOT}/bpf`, `-I${ROOT}/bpf/include`, '-o', harness, path.join(__dirname, 'harness.c')]);

interface Emitted {
  direction: number;
  status: number;
  flags: number;
  start: number;
  end: number;
  request_bytes: number;
  response_bytes: number;
  head: string;
}

interface Result {
  exchanges: Emitted[];
  counters: number[];
  invariantFailures: number;
}

type Step = ['in' | 'out', string] | ['time', number] | ['role', 'server' | 'client'] | ['sendfile', number] | ['close'] | ['reset'] | ['exit'] | ['fuzz', string];

function run(steps: Step[]): Result {
  const script = steps
    .map(([cmd, arg]) => (cmd === 'in' || cmd === 'out' ? `${cmd} ${Buffer.from(arg as string, 'latin1').toString('hex')}` : arg === undefined ? cmd : `${cmd} ${arg}`))
    .join('\n');
  const r = spawnSync(harness, { input: script + '\n', encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`harness exited ${r.status}: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const last = lines.pop();
  // The first exchange of a connection is flagged new. A scripted run is one
  // connection: only its first exchange may carry the flag, which is then taken
  // off so that the framing assertions below stay about framing.
  const firsts = lines.filter((e: Emitted) => e.flags & ExchangeFlags.newConnection).length;
  const oneConnection = !steps.some(([cmd]) => cmd === 'fuzz');
  if (oneConnection && lines.length > 0 && (firsts !== 1 || !(lines[0].flags & ExchangeFlags.newConnection))) {
    throw new Error(`harness: ${firsts} exchanges flagged newConnection, expected the first only`);
  }
  for (const e of lines) e.flags &= ~ExchangeFlags.newConnection;
  return { exchanges: lines, counters: last.counters, invariantFailures: last.invariant_failures };
}

/** Feeds a stream of (direction, bytes) as syscalls, each split at the given cut points. */
function chunked(stream: ['in' | 'out', string][], cut: (bytes: string) => number[]): Step[] {
  const steps: Step[] = [];
  let time = 1000;
  for (const [dir, bytes] of stream) {
    let at = 0;
    for (const next of [...cut(bytes), bytes.length]) {
      if (next <= at) continue;
      steps.push(['time', (time += 10)], [dir, bytes.slice(at, next)]);
      at = next;
    }
  }
  return steps;
}

const whole = (): number[] => [];
const everyByte = (b: string): number[] => Array.from({ length: b.length }, (_, i) => i + 1);
function randomCuts(seed: number) {
  let x = seed;
  const rnd = (): number => (x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  return (b: string): number[] => Array.from({ length: Math.floor(rnd() * 6) }, () => Math.floor(rnd() * b.length)).sort((a, c) => a - c);
}

/** Everything but the times: what must not depend on how bytes were split. */
const framing = (r: Result) => r.exchanges.map((e) => ({ status: e.status, flags: e.flags, request_bytes: e.request_bytes, response_bytes: e.response_bytes, method: e.head.split(' ')[0] }));
const lost = (r: Result, name: keyof typeof KernelCounters): number => r.counters[KernelCounters[name]];
const lossNames = (Object.keys(KernelCounters) as (keyof typeof KernelCounters)[]).filter((n) => n.startsWith('lost'));
const losses = (r: Result): number => lossNames.reduce((a, n) => a + lost(r, n), 0);

const req = (method: string, target: string, headers = '', body = ''): string => `${method} ${target} HTTP/1.1\r\nHost: h\r\n${headers}\r\n${body}`;
const res = (status: string, headers = '', body = ''): string => `HTTP/1.1 ${status}\r\n${headers}\r\n${body}`;

t.test('one server exchange: status, bytes, timestamps, head', async (t) => {
  const request = req('GET', '/x?y=1');
  const response = res('200 OK', 'Content-Length: 2\r\n', 'ok');
  const r = run([['role', 'server'], ['time', 100], ['in', request], ['time', 250], ['out', response]]);
  t.same(r.exchanges, [{ direction: 1, status: 200, flags: 0, start: 100, end: 250, request_bytes: request.length, response_bytes: response.length, head: request }]);
  t.equal(r.invariantFailures, 0);
});

t.test('the client side mirrors it', async (t) => {
  const r = run([['role', 'client'], ['time', 5], ['out', req('DELETE', '/item/9')], ['time', 9], ['in', res('404 Not Found', 'Content-Length: 0\r\n')]]);
  t.same(r.exchanges.map((e) => [e.direction, e.status, e.start, e.end]), [[2, 404, 5, 9]]);
});

const streams: Record<string, ['in' | 'out', string][]> = {
  'pipelined requests with bodies': [
    ['in', req('GET', '/a') + req('POST', '/b', 'Content-Length: 11\r\n', 'hello world') + req('PUT', '/c', 'content-length: 0\r\n')],
    ['out', res('200 OK', 'Content-Length: 1\r\n', 'a') + res('201 Created', 'Content-Length: 3\r\n', 'bcd')],
    ['out', res('204 No Content')],
  ],
  'a chunked response with extensions and trailers': [
    ['in', req('GET', '/stream')],
    ['out', res('200 OK', 'Transfer-Encoding: chunked\r\n', '5;name=v\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n')],
    ['in', req('GET', '/next')],
    ['out', res('200 OK', 'Content-Length: 4\r\n', 'next')],
  ],
  'a chunked request, 100 Continue, then the final response': [
    ['in', req('POST', '/upload', 'Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n')],
    ['out', res('100 Continue')],
    ['in', '4\r\nbody\r\n0\r\n\r\n'],
    ['out', res('200 OK', 'Content-Length: 2\r\n', 'ok')],
  ],
  'HEAD, 304 and 204 have no body': [
    ['in', req('HEAD', '/big') + req('GET', '/cached', 'If-None-Match: "x"\r\n') + req('DELETE', '/d')],
    ['out', res('200 OK', 'Content-Length: 100000\r\n') + res('304 Not Modified', 'Content-Length: 55\r\n') + res('204 No Content')],
  ],
  'a header line longer than the scan window': [
    ['in', req('GET', '/cookie', `Cookie: ${'c'.repeat(2000)}\r\n`)],
    ['out', res('200 OK', `Set-Cookie: ${'s'.repeat(1500)}\r\nContent-Length: 3\r\n`, 'abc')],
  ],
};

for (const [name, stream] of Object.entries(streams)) {
  t.test(`${name}: the same exchanges however the bytes are split`, async (t) => {
    const reference = run([['role', 'server'], ...chunked(stream, whole)]);
    t.equal(losses(reference), 0, 'no loss of any kind');
    t.ok(reference.exchanges.length > 0);
    t.same(framing(run([['role', 'server'], ...chunked(stream, everyByte)])), framing(reference), 'one byte per syscall');
    for (let seed = 1; seed <= 40; seed++) {
      t.same(framing(run([['role', 'server'], ...chunked(stream, randomCuts(seed))])), framing(reference), `random splits, seed ${seed}`);
    }
  });
}

t.test('what the reference streams frame to', async (t) => {
  const r = (name: string) => run([['role', 'server'], ...chunked(streams[name], whole)]).exchanges;
  t.same(r('pipelined requests with bodies').map((e) => [e.status, e.flags]), [[200, 0], [201, ExchangeFlags.pipelined], [204, ExchangeFlags.pipelined]]);
  t.same(r('a chunked response with extensions and trailers').map((e) => [e.status, e.flags & ExchangeFlags.chunked]), [[200, ExchangeFlags.chunked], [200, 0]]);
  const upload = r('a chunked request, 100 Continue, then the final response');
  t.same(upload.map((e) => e.status), [200], 'the interim 100 is not an exchange');
  t.equal(upload[0].request_bytes, streams['a chunked request, 100 Continue, then the final response'][0][1].length + '4\r\nbody\r\n0\r\n\r\n'.length);
  t.same(r('HEAD, 304 and 204 have no body').map((e) => e.status), [200, 304, 204]);
  const cookie = r('a header line longer than the scan window');
  t.equal(cookie[0].flags, ExchangeFlags.headTruncated, 'a head longer than the captured bytes is flagged');
  t.equal(cookie[0].head.length, 256);
});

t.test('a response delimited by close completes at its last bytes, not as aborted', async (t) => {
  const r = run([['time', 10], ['in', req('GET', '/old')], ['time', 20], ['out', 'HTTP/1.0 200 OK\r\n\r\npart one '], ['time', 30], ['out', 'part two'], ['time', 99], ['close']]);
  t.same(r.exchanges.map((e) => [e.status, e.flags, e.end, e.response_bytes]), [[200, 0, 30, 'HTTP/1.0 200 OK\r\n\r\npart one part two'.length]]);
});

t.test('closed, reset and exiting connections emit what is outstanding as aborted', async (t) => {
  const closed = run([['time', 1], ['in', req('GET', '/a') + req('GET', '/b')], ['time', 2], ['out', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], ['time', 3], ['close']]);
  t.same(closed.exchanges.map((e) => [e.status, e.flags, e.response_bytes, e.end]), [
    [200, ExchangeFlags.aborted | ExchangeFlags.closed, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'.length, 3],
    [0, ExchangeFlags.aborted | ExchangeFlags.closed | ExchangeFlags.pipelined | ExchangeFlags.noResponseHead, 0, 3],
  ]);
  t.equal(lost(closed, 'aborted'), 2);
  const reset = run([['in', req('GET', '/a')], ['reset'], ['in', req('GET', '/b')], ['out', res('200 OK', 'Content-Length: 0\r\n')]]);
  t.same(reset.exchanges.map((e) => [e.status, e.flags]), [[0, ExchangeFlags.aborted | ExchangeFlags.reset | ExchangeFlags.noResponseHead], [200, 0]], 'and the connection goes on');
  const exit = run([['in', req('GET', '/a')], ['exit']]);
  t.same(exit.exchanges.map((e) => e.flags), [ExchangeFlags.aborted | ExchangeFlags.processExit | ExchangeFlags.noResponseHead]);
});

t.test('sendfile bodies advance the framing without being read', async (t) => {
  const r = run([['in', req('GET', '/file')], ['out', res('200 OK', 'Content-Length: 5000\r\n')], ['sendfile', 4000], ['sendfile', 1000], ['in', req('GET', '/again')], ['out', res('200 OK', 'Content-Length: 1\r\n', 'x')]]);
  t.same(r.exchanges.map((e) => [e.status, e.response_bytes]), [[200, res('200 OK', 'Content-Length: 5000\r\n').length + 5000], [200, res('200 OK', 'Content-Length: 1\r\n', 'x').length]]);
});

const okEmpty = res('200 OK', 'Content-Length: 0\r\n');
const paths = (r: Result): string[] => r.exchanges.map((e) => e.head.split(' ')[1] ?? '-');

t.test('32 pipelined requests are kept exact, in order, with their heads', async (t) => {
  const requests = Array.from({ length: 32 }, (_, i) => req('GET', `/${i}`));
  const r = run([['time', 5], ['in', requests.join('')], ...requests.map((_, i): Step[] => [['time', 10 + i], ['out', okEmpty]]).flat()]);
  t.same(paths(r), requests.map((_, i) => `/${i}`));
  t.same(r.exchanges.map((e) => e.request_bytes), requests.map((q) => q.length));
  t.same(r.exchanges.map((e) => e.flags), [0, ...Array(31).fill(ExchangeFlags.pipelined)]);
  t.same(r.exchanges.map((e) => e.end), requests.map((_, i) => 10 + i));
  t.equal(losses(r), 0);
  t.equal(r.invariantFailures, 0, 'every deep head freed');
});

t.test('past 32 outstanding, exchanges are still emitted in order, without their heads', async (t) => {
  const requests = Array.from({ length: 40 }, (_, i) => req('GET', `/${i}`));
  const responses = requests.map((_, i) => res('200 OK', `Content-Length: ${String(i).length}\r\n`, String(i)));
  const r = run([['time', 5], ['in', requests.join('')], ...responses.map((b): Step => ['out', b])]);
  t.equal(r.exchanges.length, 40, 'none dropped');
  t.same(paths(r).slice(0, 32), requests.slice(0, 32).map((_, i) => `/${i}`));
  t.same(r.exchanges.slice(32).map((e) => [e.head, e.flags]), Array(8).fill(['', ExchangeFlags.pipelined | ExchangeFlags.headMissing]));
  t.same(r.exchanges.map((e) => e.response_bytes), responses.map((b) => b.length), 'each response its own bytes');
  t.same(r.exchanges.map((e) => e.request_bytes), requests.map((q) => q.length), 'each request its own bytes, past the FIFO too');
  t.same([lost(r, 'headless'), losses(r)], [8, 0]);
  t.equal(r.invariantFailures, 0);
});

t.test('requests past the FIFO that never get an answer are aborted, not dropped', async (t) => {
  const r = run([['in', Array.from({ length: 36 }, (_, i) => req('GET', `/${i}`)).join('')], ['out', okEmpty], ['close']]);
  t.equal(r.exchanges.length, 36);
  t.same(r.exchanges.map((e) => e.flags & ExchangeFlags.aborted).filter(Boolean).length, 35);
  t.equal(lost(r, 'headless'), 4);
  t.equal(r.invariantFailures, 0);
});

t.test('interim responses count in the exchange, flagged', async (t) => {
  const interim = res('100 Continue');
  const final = res('200 OK', 'Content-Length: 2\r\n', 'ok');
  const body = 'x'.repeat(10);
  const request = req('POST', '/up', 'Content-Length: 10\r\nExpect: 100-continue\r\n');
  const r = run([['in', request], ['out', interim], ['in', body], ['out', final]]);
  t.same(r.exchanges.map((e) => [e.status, e.flags, e.request_bytes, e.response_bytes]), [[200, ExchangeFlags.interim, request.length + 10, interim.length + final.length]]);
  const cut = run([['in', request], ['out', interim], ['close']]);
  t.same(cut.exchanges.map((e) => [e.status, e.response_bytes, e.flags]), [[0, interim.length, ExchangeFlags.aborted | ExchangeFlags.closed | ExchangeFlags.noResponseHead | ExchangeFlags.interim]]);
});

t.test('a request with Content-Length and Transfer-Encoding ends the requests of its connection: a smuggled one is no exchange', async (t) => {
  const smuggler = req('POST', '/', 'Content-Length: 44\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n') + req('GET', '/admin');
  const r = run([['in', smuggler], ['out', res('400 Bad Request', 'Connection: close\r\nContent-Length: 0\r\n')], ['close']]);
  t.same(r.exchanges.map((e) => [paths(r)[0], e.status, e.flags]), [['/', 400, 0]]);
  t.equal(losses(r), 0);
});

t.test('a request line counts only with its HTTP version: look-alike protocols produce nothing', async (t) => {
  for (const [name, bytes] of [
    ['Redis inline commands', 'GET foo\r\nSET foo bar\r\n'],
    ['SIP', 'OPTIONS sip:bob@example.com SIP/2.0\r\nVia: x\r\n\r\n'],
    ['an FTP-like verb', 'DELETE file.txt\r\n'],
    ['binary after a method', 'POST \x00\x01\x02\xff\n\x00more'],
  ]) {
    for (const cut of [whole, everyByte]) {
      const r = run([...chunked([['in', bytes], ['out', '+OK\r\n$3\r\nbar\r\n']], cut), ['close']]);
      t.same([r.exchanges.length, lost(r, 'notHttp'), losses(r)], [0, 1, 0], `${name}, ${cut === whole ? 'whole' : 'a byte per call'}: refused once, then left alone`);
    }
  }
  const cutOff = run([['in', 'GET /never-ends'], ['close']]);
  t.same([cutOff.exchanges.length, lost(cutOff, 'notHttp')], [0, 1], 'a request line cut off by the close is not an exchange');
  const bareLf = run([['in', 'GET /lf HTTP/1.0\n\n'], ['out', 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n']]);
  t.same(paths(bareLf), ['/lf'], 'a bare LF ends a request line too');
  const split = run([...chunked([['in', req('GET', '/split/version')]], () => [14, 20, 24, 25]), ['out', okEmpty]]);
  t.same(paths(split), ['/split/version'], 'the version split over calls still confirms it');
  const tooLong = run([['in', 'GET /' + 'a'.repeat(17000)], ['out', res('414 URI Too Long', 'Content-Length: 0\r\n')]]);
  t.same(tooLong.exchanges.map((e) => e.status), [414], 'a 414 answers a request line too long to end: it counts');
});

t.test('bytes that are not HTTP are counted and produce nothing', async (t) => {
  // "GE" could begin "GET ": held until "X" says it does not.
  const r = run([['in', '\x16\x03\x01\x02\x00 TLS hello'], ['in', 'GE'], ['in', 'X / HTTP/1.1\r\n\r\n'], ['out', 'random words'], ['close']]);
  t.same(r.exchanges, []);
  t.equal(lost(r, 'lostUnparsed'), 3);
});

t.test('a repeated Content-Length counts once; an absurd one is not a length', async (t) => {
  const twice = run([['in', req('POST', '/p', 'Content-Length: 3\r\nContent-Length: 3\r\n', 'abc') + req('GET', '/q')], ['out', res('200 OK', 'Content-Length: 0\r\n')], ['out', res('200 OK', 'Content-Length: 0\r\n')]]);
  t.same(twice.exchanges.map((e) => e.head.split('\r\n')[0]), ['POST /p HTTP/1.1', 'GET /q HTTP/1.1']);
  const absurd = run([['in', req('GET', '/a')], ['out', res('200 OK', 'Content-Length: 999999999999999999999999\r\n', 'body')], ['close']]);
  t.same(absurd.exchanges.map((e) => [e.status, e.flags]), [[200, 0]], 'framed by close instead');
});

t.test('a request head split over syscalls is captured across them', async (t) => {
  const request = req('GET', '/split/head', 'User-Agent: test\r\n');
  const r = run([...chunked([['in', request]], (b) => [3, 10, 20, b.length - 2]), ['out', res('200 OK', 'Content-Length: 0\r\n')]]);
  t.equal(r.exchanges[0].head, request);
});

t.test('fuzz: random valid, cut, flipped and random traffic under ASan and UBSan', async (t) => {
  for (const seed of [1, 2, 3]) {
    const r = run([['fuzz', `${seed} 4000`]]);
    t.equal(r.invariantFailures, 0, `seed ${seed}: no outstanding-count or timestamp invariant broken`);
    t.ok(lost(r, 'exchanges') > 1000, `seed ${seed}: ${lost(r, 'exchanges')} exchanges framed`);
  }
});
