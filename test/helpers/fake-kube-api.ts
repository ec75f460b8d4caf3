/**
 * A Kubernetes API server of our own for tests, on loopback: the pod and
 * Service list and watch calls in the real API's JSON shapes, as
 * @kubernetes/client-node's ListWatch makes them:
 *
 *   GET /api/v1/pods?fieldSelector=spec.nodeName%3D<node>                     PodList
 *   GET /api/v1/pods?watch=true&resourceVersion=N&fieldSelector=...           {"type":"ADDED"|"MODIFIED"|"DELETED","object":...} per line
 *   GET /api/v1/services[?watch=true...]                                      ServiceList, the same events
 *
 * Objects are set and deleted by the test; every open watch gets the event.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

interface Kind {
  list: string;
  objects: Map<string, Record<string, unknown>>;
  watchers: Set<http.ServerResponse>;
}

export interface FakeKubeApi {
  /** A kubeconfig file pointing at the server (for HTTP_TRACER_KUBECONFIG). */
  kubeconfig: string;
  /** Every request's path and query, in order. */
  requests: string[];
  setPod(pod: Record<string, unknown>): void;
  deletePod(namespace: string, name: string): void;
  setService(service: Record<string, unknown>): void;
  close(): Promise<void>;
}

export async function fakeKubeApi(): Promise<FakeKubeApi> {
  let version = 1;
  const kinds: Record<string, Kind> = {
    pods: { list: 'PodList', objects: new Map(), watchers: new Set() },
    services: { list: 'ServiceList', objects: new Map(), watchers: new Set() },
  };
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const kind = /^\/api\/v1\/(pods|services)$/.exec(url.pathname)?.[1];
    if (!kind || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 }));
      return;
    }
    const k = kinds[kind];
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      k.watchers.add(res);
      res.on('close', () => k.watchers.delete(res));
      return;
    }
    const body = { kind: k.list, apiVersion: 'v1', metadata: { resourceVersion: String(version) }, items: [...k.objects.values()] };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kube-'));
  const kubeconfig = path.join(dir, 'kubeconfig.json');
  fs.writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP: client-node then wants the TLS check waived explicitly.
      clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'agent', user: { token: 'test-token' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'agent' } }],
      'current-context': 'fake',
    }),
  );

  const key = (o: Record<string, unknown>): string => {
    const m = o.metadata as { namespace: string; name: string };
    return `${m.namespace}/${m.name}`;
  };
  const emit = (k: Kind, type: string, object: Record<string, unknown>): void => {
    for (const w of k.watchers) w.write(JSON.stringify({ type, object }) + '\n');
  };
  const set = (k: Kind, kindName: string, o: Record<string, unknown>): void => {
    const object = { apiVersion: 'v1', kind: kindName, ...o, metadata: { ...(o.metadata as object), resourceVersion: String(++version) } };
    const type = k.objects.has(key(o)) ? 'MODIFIED' : 'ADDED';
    k.objects.set(key(o), object);
    emit(k, type, object);
  };

  return {
    kubeconfig,
    requests,
    setPod: (pod) => set(kinds.pods, 'Pod', pod),
    deletePod(namespace, name) {
      const object = kinds.pods.objects.get(`${namespace}/${name}`);
      if (!object) throw new Error(`no pod ${namespace}/${name}`);
      kinds.pods.objects.delete(`${namespace}/${name}`);
      emit(kinds.pods, 'DELETED', { ...object, metadata: { ...(object.metadata as object), resourceVersion: String(++version) } });
    },
    setService: (service) => set(kinds.services, 'Service', service),
    async close() {
      for (const k of Object.values(kinds)) for (const w of k.watchers) w.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
