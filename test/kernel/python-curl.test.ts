/**
 * Python's http.server (recvfrom/sendto, HTTP/1.0, connection closed after
 * each response) with curl as the client (sendto/recvfrom).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { freePort, kernelSkipReason, Recorder, run, startChild, stopChild, tally, waitForPort } from '../helpers/kernel';

interface CurlCall {
  args: string[];
  key: string;
}

t.test('python http.server and curl', { skip: kernelSkipReason() }, async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhttp-'));
  fs.writeFileSync(path.join(root, 'a.txt'), 'hello from python\n');
  fs.writeFileSync(path.join(root, 'big.bin'), Buffer.alloc(200_000, 7));
  const port = await freePort();
  const server = startChild('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], { cwd: root });
  await waitForPort(port);
  const recorder = new Recorder({ ports: { allow: [port] } });
  t.teardown(async () => {
    await recorder.stop();
    await stopChild(server);
    fs.rmSync(root, { recursive: true, force: true });
  });

  const base = `http://127.0.0.1:${port}`;
  const calls: CurlCall[] = [
    { args: [`${base}/a.txt`], key: 'GET /a.txt 200' },
    { args: [`${base}/a.txt?v=2`], key: 'GET /a.txt 200' },
    { args: [`${base}/big.bin`], key: 'GET /big.bin 200' },
    { args: [`${base}/missing`], key: 'GET /missing 404' },
    { args: [`${base}/missing`], key: 'GET /missing 404' },
    { args: ['-I', `${base}/a.txt`], key: 'HEAD /a.txt 200' },
    { args: ['-d', 'payload=1', `${base}/a.txt`], key: 'POST /a.txt 501' },
  ];
  const sizes: { request: number; response: number }[] = [];
  for (const c of calls) {
    const r = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_request} %{size_header} %{size_download}', ...c.args]);
    const [code, request, header, body] = r.stdout.split(' ').map(Number);
    t.equal(code, Number(c.key.split(' ')[2]), `curl ${c.args.join(' ')}`);
    sizes.push({ request, response: header + body });
  }

  const all = await recorder.waitForCount(calls.length * 2);
  t.equal(all.length, calls.length * 2);
  const expected = tally(calls, (c) => c.key);
  for (const direction of ['server', 'client'] as const) {
    const side = all.filter((e) => e.direction === direction);
    t.same(tally(side, (e) => `${e.method} ${e.path} ${e.status}`), expected, `${direction}: counts`);
    t.same(side.map((e) => e.comm), calls.map(() => (direction === 'server' ? 'python3' : 'curl')), `${direction}: process names`);
    side.forEach((e, i) => {
      t.equal(e.requestBytes, sizes[i].request, `${direction} ${calls[i].key}: request bytes`);
      t.equal(e.responseBytes, sizes[i].response, `${direction} ${calls[i].key}: response bytes`);
      t.equal(e.aborted, false);
    });
  }
  t.equal(recorder.capture.stats().lost.total, 0, 'nothing lost');
});
