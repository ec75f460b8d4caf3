/**
 * The cardinality budget against a real name flood: one Python client renames
 * itself (prctl PR_SET_NAME, no privilege needed) once per request, past a
 * services cap of 50, then a new client sends 100 requests of which 10 fail
 * with 500. The flood must not hide the new client's traffic or its errors,
 * and the server keeps its own name and exact totals. The cap is lowered (the
 * default is 500) so that the flood, which every agent on this host sees,
 * stays under the cap of the agents other tests run at the same time.
 */
import t from 'tap';
import { loadAddon } from '../../src/capture/addon-load';
import { Capture } from '../../src/capture/capture';
import { wallMinusMonotonicNs } from '../../src/capture/clock';
import { OVERFLOW } from '../../src/analytics/series-budget';
import { Engine } from '../../src/pipeline/engine';
import { apiMetrics, type RedRow } from '../../src/server/api-metrics';
import { freePort, kernelSkipReason, nodeServer, run, sleep, stopChild } from '../helpers/kernel';
import { PYTHON } from '../helpers/peers';

const FAKE_NAMES = 200;
const SERVICES_CAP = 50;

/**
 * argv: port, mode. "flood": a new process name, then GET /hello on a new
 * connection (the capture names a connection's exchanges once); "legit": as
 * "legit", 90 GET /hello and 10 GET /fail.
 */
const CLIENT = `
import ctypes, http.client, sys
port, mode = int(sys.argv[1]), sys.argv[2]
prctl = ctypes.CDLL(None).prctl
def get(path):
    conn = http.client.HTTPConnection('127.0.0.1', port)
    conn.request('GET', path)
    conn.getresponse().read()
    conn.close()
if mode == 'flood':
    for i in range(${FAKE_NAMES}):
        prctl(15, ('fake%d' % i).encode(), 0, 0, 0)
        get('/hello')
else:
    prctl(15, b'legit', 0, 0, 0)
    for i in range(100):
        get('/fail' if i < 10 else '/hello')
`;

type Row = RedRow & { service: string };

t.test('200 process names set with prctl past a cap of 50 services do not hide a new service: its requests and 500s are counted', { skip: kernelSkipReason() }, async (t) => {
  const port = await freePort();
  const server = await nodeServer(port);
  const engine = await Engine.start({ workerThreads: 2, seriesLimits: { services: SERVICES_CAP }, clockOffsetMs: Number(wallMinusMonotonicNs(loadAddon())) / 1e6 });
  const capture = Capture.start({ ports: { allow: [port] } }, (batch, records) => engine.ingest(batch, records));
  t.teardown(async () => {
    await capture.stop();
    await engine.stop();
    await stopChild(server);
  });

  for (const mode of ['flood', 'legit']) {
    const r = await run(PYTHON, ['-c', CLIENT, String(port), mode], 60_000);
    t.equal(r.code, 0, `${mode} client: ${r.stderr}`);
  }
  const expected = FAKE_NAMES + 100;
  const metrics = (side: 'server' | 'client') => apiMetrics(engine.store, { window: '5m', side, limit: 10_000 }, 300_000);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    await engine.sync();
    if (metrics('server').totals.requests >= expected && metrics('client').totals.requests >= expected) break;
    await sleep(100);
  }

  const client = metrics('client');
  t.same([client.totals.requests, client.totals.errors, client.totals.error_rate], [expected, 10, 10 / expected], 'client side: totals exact');
  t.same(client.status_classes, { '2xx': expected - 10, '5xx': 10 });
  const services = client.services as Row[];
  t.equal(services.reduce((n, s) => n + s.requests, 0), expected, 'every request under some service');
  t.notOk(services.some((s) => s.service === 'legit'), 'the services cap was spent by the flood');
  t.equal(services.find((s) => s.service === OVERFLOW)?.errors, 10, "the new client's 500s are in the OVERFLOW service");

  const server_ = metrics('server');
  t.same((server_.services as Row[]).map((s) => [s.service, s.requests, s.errors]), [[`node:${port}`, expected, 10]], 'the server keeps its own name and exact totals');
  t.equal(engine.store.stats().budget.services, SERVICES_CAP);
  t.equal(engine.stats().droppedEvents, 0);
});
