/**
 * Kubernetes watch errors in the log once per change (metadata/kubernetes-watch.ts
 * through change-log.ts): an API that refuses the Services list on every
 * retry is one warning, its first answer after that one line more.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startMetadata } from '../../src/agent/metadata-part';
import { createLogger } from '../../src/log/logger';

t.test('services refused twice, then listed: one warning, one recovery', async (t) => {
  // The retry comes a second later: the response's Date header differs, the error must not.
  let refusals = 2;
  let serviceLists = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const kind = url.pathname.split('/').pop();
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }); // open, silent
      return;
    }
    if (kind === 'services' && refusals-- > 0) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'services is forbidden', reason: 'Forbidden', code: 403 }));
      return;
    }
    if (kind === 'services') serviceLists++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: kind === 'pods' ? 'PodList' : 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const kubeconfig = `${t.testdir({})}/kubeconfig.json`;
  fs.writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'agent', user: { token: 'test-token' } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'agent' } }],
      'current-context': 'test',
    }),
  );
  const lines: { level: string; msg: string; watch?: string }[] = [];
  const log = createLogger({ level: 'info', format: 'json' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const metadata = await startMetadata({ HTTP_TRACER_KUBECONFIG: kubeconfig, NODE_NAME: 'node-a' }, () => undefined, log);
  t.teardown(() => metadata.shutdown());
  const deadline = Date.now() + 15_000;
  while (!metadata.status().synced && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(metadata.status().synced, 'synced once the API answers');
  t.equal(serviceLists, 1);
  const watchLines = lines.filter((l) => l.watch !== undefined).map((l) => [l.level, l.msg]);
  t.same(watchLines, [
    ['warn', 'kubernetes: watch of services: 403 services is forbidden; retrying'],
    ['info', 'kubernetes: watch of services works again'],
  ]);
});
