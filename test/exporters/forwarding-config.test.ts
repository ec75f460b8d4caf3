/**
 * The forwarding section and its variables: every field as written, the
 * defaults, the environment's targets, and every bad value named.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FORWARD_DEFAULTS, forwardingConfig } from '../../src/exporters/forwarding-config';

const WHERE = 'config c.json: output.forwarding';
const NODE = process.env.NODE_NAME || os.hostname();

t.test('targets as written, with defaults; node and external labels', async (t) => {
  const dir = t.testdir({ pw: 'secret\n', token: 'tok-123\n', 'ca.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' });
  const c = forwardingConfig(
    {
      interval_seconds: 15,
      external_labels: { cluster: 'prod-eu' },
      targets: [
        { name: 'mimir', type: 'remote_write', url: 'https://mimir.example/api/v1/push', headers: { 'X-Scope-OrgID': 'team-a' }, basic_auth: { username: 'agent', password_file: path.join(dir, 'pw') }, ca_file: path.join(dir, 'ca.pem'), queue_bytes: 1 << 26, batch_samples: 500, timeout_seconds: 5 },
        { name: 'collector', type: 'otlp', url: 'http://otel:4318', bearer_token_file: path.join(dir, 'token') },
      ],
    },
    WHERE,
    {},
  );
  t.equal(c.intervalMs, 15_000);
  t.same(c.externalLabels, { node: NODE, cluster: 'prod-eu' });
  t.same(c.targets[0], {
    name: 'mimir',
    kind: 'remote_write',
    url: 'https://mimir.example/api/v1/push',
    headers: { 'x-scope-orgid': 'team-a', authorization: `Basic ${Buffer.from('agent:secret').toString('base64')}` },
    ca: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    timeoutMs: 5000,
    queueBytes: 1 << 26,
    batchSamples: 500,
  });
  t.same(c.targets[1], {
    name: 'collector',
    kind: 'otlp',
    url: 'http://otel:4318/',
    headers: { authorization: 'Bearer tok-123' },
    ca: undefined,
    timeoutMs: FORWARD_DEFAULTS.timeoutSeconds * 1000,
    queueBytes: FORWARD_DEFAULTS.queueBytes,
    batchSamples: FORWARD_DEFAULTS.batchSamples,
  });
  t.same(forwardingConfig(undefined, WHERE, {}), { intervalMs: 10_000, externalLabels: { node: NODE }, targets: [] }, 'nothing configured: no target');
});

t.test('the variables alone start forwarding; they win over the file', async (t) => {
  const c = forwardingConfig({ targets: [{ name: 'remote_write', type: 'remote_write', url: 'http://old:9090/api/v1/write' }] }, WHERE, {
    HTTP_TRACER_FORWARD_REMOTE_WRITE_URL: 'http://127.0.0.1:9090/api/v1/write',
    HTTP_TRACER_FORWARD_OTLP_URL: 'http://127.0.0.1:4318',
    HTTP_TRACER_FORWARD_INTERVAL_SECONDS: '5',
    HTTP_TRACER_FORWARD_EXTERNAL_LABELS: 'cluster=lab, region=eu-west-1',
  });
  t.same(
    c.targets.map((x) => [x.name, x.kind, x.url]),
    [
      ['remote_write', 'remote_write', 'http://127.0.0.1:9090/api/v1/write'],
      ['otlp', 'otlp', 'http://127.0.0.1:4318/'],
    ],
  );
  t.equal(c.intervalMs, 5000);
  t.same(c.externalLabels, { node: NODE, cluster: 'lab', region: 'eu-west-1' });
});

t.test('every bad value is named', async (t) => {
  const dir = t.testdir({ empty: '', 'not-ca.pem': 'hello' });
  const cases: [unknown, Record<string, string>, string][] = [
    [[], {}, `${WHERE}: [] must be an object ({"targets": [...]})`],
    [{ target: [] }, {}, `${WHERE}.target: is not a known key; did you mean "targets"?`],
    [{ interval_seconds: 0 }, {}, `${WHERE}.interval_seconds: 0 must be from 1 to 3600 seconds`],
    [{ external_labels: { 'bad-name': 'x' } }, {}, `${WHERE}.external_labels.bad-name: "bad-name" is not a label name`],
    [{ external_labels: { cluster: '' } }, {}, `${WHERE}.external_labels.cluster: "" must be a non-empty string`],
    [{ targets: {} }, {}, `${WHERE}.targets: {} must be an array of targets`],
    [{ targets: [{ name: 'a', url: 'http://x' }] }, {}, `${WHERE}.targets[0].type: is required: one of remote_write, otlp`],
    [{ targets: [{ name: 'a', type: 'kafka', url: 'http://x' }] }, {}, `${WHERE}.targets[0].type: "kafka" must be one of remote_write, otlp`],
    [{ targets: [{ name: 'a b', type: 'otlp', url: 'http://x' }] }, {}, `${WHERE}.targets[0].name: "a b" must be 1 to 64 letters`],
    [{ targets: [{ name: 'a', type: 'otlp', url: 'ftp://x' }] }, {}, `${WHERE}.targets[0].url: "ftp://x" must be an http or https URL`],
    [{ targets: [{ name: 'a', type: 'otlp', url: 'http://x', queue_bytes: 10 }] }, {}, `${WHERE}.targets[0].queue_bytes: 10 must be from 1048576 to`],
    [{ targets: [{ name: 'a', type: 'otlp', url: 'http://x', bearer_token: 't', basic_auth: { username: 'u', password: 'p' } }] }, {}, `${WHERE}.targets[0]: give one of basic_auth, bearer_token, not several`],
    [{ targets: [{ name: 'a', type: 'otlp', url: 'http://x', basic_auth: { username: 'u' } }] }, {}, `${WHERE}.targets[0].basic_auth: give either password or password_file`],
    [{ targets: [{ name: 'a', type: 'otlp', url: 'http://x', bearer_token_file: path.join(dir, 'empty') }] }, {}, `${WHERE}.targets[0].bearer_token_file: ${JSON.stringify(path.join(dir, 'empty'))} is empty`],
    [{ targets: [{ name: 'a', type: 'otlp', url: 'http://x', ca_file: path.join(dir, 'not-ca.pem') }] }, {}, `${WHERE}.targets[0].ca_file: ${JSON.stringify(path.join(dir, 'not-ca.pem'))} holds no PEM certificate`],
    [{ targets: [{ name: 'a', type: 'otlp', url: 'http://x', headers: { 'Content-Type': 'text/plain' } }] }, {}, `${WHERE}.targets[0].headers.Content-Type: is set by the agent; remove it`],
    [{ targets: [{ name: 'a', type: 'otlp', url: 'http://x' }, { name: 'a', type: 'remote_write', url: 'http://y' }] }, {}, `${WHERE}.targets[1].name: "a" is already the name of ${WHERE}.targets[0]`],
    [undefined, { HTTP_TRACER_FORWARD_REMOTE_WRITE_URL: 'notaurl' }, 'HTTP_TRACER_FORWARD_REMOTE_WRITE_URL: "notaurl" must be an http or https URL'],
    [undefined, { HTTP_TRACER_FORWARD_INTERVAL_SECONDS: 'often' }, 'HTTP_TRACER_FORWARD_INTERVAL_SECONDS: "often" must be a whole number'],
    [undefined, { HTTP_TRACER_FORWARD_EXTERNAL_LABELS: 'cluster' }, 'HTTP_TRACER_FORWARD_EXTERNAL_LABELS: "cluster" must be name=value pairs'],
  ];
  for (const [raw, env, message] of cases) {
    t.throws(() => forwardingConfig(raw, WHERE, env), { code: 'HT_ERR_OPTION', message: new RegExp(`^${message.replace(/[[\]().*+?{}|^$\\]/g, '\\$&')}`) }, message);
  }
  // Secrets are never shown.
  t.throws(() => forwardingConfig({ targets: [{ name: 'a', type: 'otlp', url: 'http://x', bearer_token: 12345 }] }, WHERE, {}), { message: `${WHERE}.targets[0].bearer_token: must be a non-empty string` });
});
