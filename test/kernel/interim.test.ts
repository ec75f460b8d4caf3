/**
 * Interim responses (issue 8): curl POSTs 1 MB with "Expect: 100-continue";
 * the server answers "HTTP/1.1 100 Continue" first, then its final response.
 * One exchange per side: the final status, flagged `interim`, the request's
 * head and body bytes, and response bytes that include the interim response.
 * Judged against curl's own counts (-w) and the headers it dumped (-D).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { describe as describeExchange, freePort, kernelSkipReason, nodeServer, Recorder, run, stopChild } from '../helpers/kernel';
import { pythonServer } from '../helpers/peers';

const skip = kernelSkipReason();
const BODY_BYTES = 1 << 20;
const INTERIM = 'HTTP/1.1 100 Continue\r\n\r\n';

interface CurlCounts {
  status: number;
  headerBytes: number;
  downloadBytes: number;
  uploadBytes: number;
  requestBytes: number;
  /** The response headers curl received, as it dumped them (interim block included). */
  headers: string;
}

async function curlUpload(t: Test, url: string): Promise<CurlCounts> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interim-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const body = path.join(dir, 'body.bin');
  const dump = path.join(dir, 'headers.txt');
  fs.writeFileSync(body, Buffer.alloc(BODY_BYTES, 'a'));
  const r = await run('curl', [
    '-sS', '-o', '/dev/null', '-D', dump,
    '-H', 'Expect: 100-continue',
    '--data-binary', `@${body}`,
    '-w', '%{http_code} %{size_header} %{size_download} %{size_upload} %{size_request}',
    url,
  ], 30_000);
  if (r.code !== 0) throw new Error(`curl failed (${r.code}): ${r.stderr}`);
  const [status, headerBytes, downloadBytes, uploadBytes, requestBytes] = r.stdout.split(' ').map(Number);
  return { status, headerBytes, downloadBytes, uploadBytes, requestBytes, headers: fs.readFileSync(dump, 'latin1') };
}

async function checkInterim(t: Test, recorder: Recorder, serverComm: string, url: string): Promise<void> {
  const curl = await curlUpload(t, url);
  t.equal(curl.status, 200, 'curl got 200');
  t.equal(curl.uploadBytes, BODY_BYTES, 'curl sent the whole body');
  t.ok(curl.headers.startsWith(INTERIM), `the server sent "100 Continue" first: ${JSON.stringify(curl.headers.slice(0, 40))}`);
  t.equal(curl.headerBytes, curl.headers.length, "curl's size_header counts every header byte it received, the interim response's included");
  const finalBytes = curl.headerBytes - INTERIM.length + curl.downloadBytes;
  const sent = curl.requestBytes + curl.uploadBytes;
  const received = curl.headerBytes + curl.downloadBytes;

  await recorder.waitForCount(2, 10_000).catch(() => {});
  for (const [direction, comm] of [
    ['server', serverComm],
    ['client', 'curl'],
  ] as const) {
    const side = recorder.exchanges.filter((e) => e.direction === direction);
    t.equal(side.length, 1, `${direction}: one exchange: ${side.map(describeExchange).join(' | ')}`);
    if (side.length !== 1) continue;
    const e = side[0];
    t.match(e, { method: 'POST', status: 200, comm, aborted: false }, `${direction}: POST 200 by ${comm}`);
    t.ok(e.flags.includes('interim'), `${direction}: flagged interim: [${e.flags.join(',')}]`);
    t.equal(e.requestBytes, sent, `${direction}: request bytes = curl's head + body (${curl.requestBytes} + ${curl.uploadBytes})`);
    t.equal(e.responseBytes, received, `${direction}: response bytes = curl's headers + body (${curl.headerBytes} + ${curl.downloadBytes})`);
    t.equal(e.responseBytes, INTERIM.length + finalBytes, `${direction}: the ${INTERIM.length}-byte interim response + the final ${finalBytes} bytes`);
  }
  const stats = recorder.capture.stats();
  t.equal(stats.kernel.lostResponseNoRequest, 0, 'the final response matched its request');
  t.equal(stats.lost.total, 0, `nothing lost: ${JSON.stringify(stats.lost.byReason)}`);
}

t.test('Python http.server (HTTP/1.1) answers 100 Continue to curl: one exchange, interim', { skip }, async (t) => {
  const port = await freePort();
  const server = await pythonServer(port);
  t.teardown(() => server.stop());
  const recorder = new Recorder({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());
  await checkInterim(t, recorder, 'python3', `http://127.0.0.1:${port}/upload`);
  t.same(server.accessLog(), [{ method: 'POST', target: '/upload', status: 200 }], 'the server logged the one final response');
});

t.test('Node http server answers 100 Continue to curl: one exchange, interim', { skip }, async (t) => {
  const port = await freePort();
  const server = await nodeServer(port);
  t.teardown(() => stopChild(server));
  const recorder = new Recorder({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());
  await checkInterim(t, recorder, 'node', `http://127.0.0.1:${port}/echo`);
});
