/**
 * HTTPS through the TLS uprobes (issue 15), libssl.so.3's side: Python's
 * `ssl` module (socket BIO: the socket is read and written inside
 * SSL_read_ex/SSL_write_ex) as server and client, curl against it, and
 * `openssl s_server -www` with curl. The library is mapped only once the
 * Python server imports ssl, after the agent started: it is found through
 * the kernel's mmap notice.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Exchange } from '../../src/capture/decoder';
import { curl } from '../helpers/curl';
import { freePort, kernelSkipReason, Recorder, run, startChild, stopChild, until, waitForPort } from '../helpers/kernel';

const skip = kernelSkipReason();

// HTTP/1.1 keep-alive with Content-Length; /missing answers 404.
const SERVER = `
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        body = b'x' * 70000 if self.path == '/big' else b'hello ' + self.path.encode() + b'\\n'
        self.send_response(404 if self.path == '/missing' else 200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2] + '/cert.pem', sys.argv[2] + '/key.pem')
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
`;

// Requests on one keep-alive connection; prints [status, body bytes] per request.
const CLIENT = `
import http.client, json, ssl, sys
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
connection = http.client.HTTPSConnection('127.0.0.1', int(sys.argv[1]), context=context)
out = []
for target in sys.argv[2:]:
    connection.request('GET', target)
    response = connection.getresponse()
    out.append([response.status, len(response.read())])
print(json.dumps(out))
`;

interface Fixture {
  dir: string;
  port: number;
}

async function fixture(t: Test): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-python-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost']);
  if (r.code !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  fs.writeFileSync(path.join(dir, 'server.py'), SERVER);
  fs.writeFileSync(path.join(dir, 'client.py'), CLIENT);
  return { dir, port: await freePort() };
}

async function libsslProbed(recorder: Recorder): Promise<void> {
  await until('libssl.so.3 probed', async () => (recorder.capture.tls!.objects().some((o) => /\/libssl\.so\.3$/.test(o.path)) ? true : undefined), 10_000);
}

function line(e: Exchange): string {
  return `${e.comm} ${e.method} ${e.target} ${e.status} ${e.requestBytes}/${e.responseBytes}`;
}

function side(all: Exchange[], direction: 'server' | 'client'): Exchange[] {
  return all.filter((e) => e.direction === direction).sort((a, b) => (a.startMonotimeNs < b.startMonotimeNs ? -1 : a.startMonotimeNs > b.startMonotimeNs ? 1 : 0));
}

t.test('Python ssl server: curl -k and a Python ssl client, keep-alive, both sides', { skip }, async (t) => {
  const f = await fixture(t);
  const recorder = new Recorder({ ports: { allow: [f.port] } });
  const server = startChild('/usr/bin/python3', [path.join(f.dir, 'server.py'), String(f.port), f.dir]);
  t.teardown(async () => {
    await recorder.stop();
    await stopChild(server);
  });
  await waitForPort(f.port);
  await libsslProbed(recorder);

  const base = `https://127.0.0.1:${f.port}`;
  const targets = ['/a', '/missing', '/big'];
  const transfers = await curl(targets.map((p) => base + p));
  t.same(transfers.map((x) => x.status), [200, 404, 200], 'curl got the statuses');
  const byCurl = await recorder.waitForCount(6);
  t.equal(byCurl.length, 6, 'three exchanges on each side');
  const expected = targets.map((p, i) => `GET ${p} ${transfers[i].status} ${transfers[i].request}/${transfers[i].response}`);
  t.same(side(byCurl, 'server').map(line), expected.map((x) => `python3 ${x}`), 'server side: as curl counted them');
  t.same(side(byCurl, 'client').map(line), expected.map((x) => `curl ${x}`), 'client side: the same');

  // The same targets from Python's client: the same responses; its own requests.
  recorder.exchanges.length = 0;
  const r = await run('/usr/bin/python3', [path.join(f.dir, 'client.py'), String(f.port), ...targets]);
  t.equal(r.code, 0, `client ran: ${r.stderr}`);
  t.same(JSON.parse(r.stdout), [[200, 9], [404, 15], [200, 70000]], 'the client got statuses and bodies');
  const all = await recorder.waitForCount(6);
  t.equal(all.length, 6, 'three exchanges on each side');
  // http.client sends Host and Accept-Encoding: identity.
  const sent = targets.map((p) => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1:${f.port}\r\nAccept-Encoding: identity\r\n\r\n`.length);
  const expectedPython = targets.map((p, i) => `python3 GET ${p} ${transfers[i].status} ${sent[i]}/${transfers[i].response}`);
  t.same(side(all, 'server').map(line), expectedPython, 'server side: statuses, the bytes sent and received');
  t.same(side(all, 'client').map(line), expectedPython, 'client side: the same');
  t.same(side(all, 'server').map((e) => e.flags.includes('newConnection')), [true, false, false], 'one connection');
  t.ok([...byCurl, ...all].every((e) => e.flags.includes('tls') && !e.aborted), 'all flagged tls, none aborted');
  t.equal(recorder.capture.stats().lost.total, 0, 'nothing lost');
});

t.test('openssl s_server -www and curl -k: the client side; the server side is out of reach', { skip }, async (t) => {
  const f = await fixture(t);
  const recorder = new Recorder({ ports: { allow: [f.port] } });
  const server = startChild('openssl', ['s_server', '-www', '-quiet', '-accept', String(f.port), '-cert', path.join(f.dir, 'cert.pem'), '-key', path.join(f.dir, 'key.pem')]);
  t.teardown(async () => {
    await recorder.stop();
    await stopChild(server);
  });
  await waitForPort(f.port);
  await libsslProbed(recorder);

  const [transfer] = await curl([`https://127.0.0.1:${f.port}/`]);
  t.equal(transfer.status, 200, 'curl got the status page');
  const all = await recorder.waitForCount(1);
  t.same(all.map(line), [`curl GET / 200 ${transfer.request}/${transfer.response}`], 'one exchange: curl, as it counted it');
  t.ok(all[0].flags.includes('tls'), 'flagged tls');
  // -www reads and writes through a BIO_f_ssl, which calls OpenSSL's internal
  // ssl_read_internal/ssl_write_internal: no exported function, no uprobe.
  t.equal(side(all, 'server').length, 0, 's_server -www: no exchange (its I/O reaches no exported SSL function)');
});
