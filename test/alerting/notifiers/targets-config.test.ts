/**
 * Notification targets from output.analytics.notifications and the three
 * variables: what is accepted, and every refusal with the key, the value
 * and the reason.
 */
import t from 'tap';
import { notificationTargets, shownUrl } from '../../../src/alerting/notifiers/targets-config';
import { TracerError } from '../../../src/errors';

const WHERE = 'config /etc/http-tracer.json: output.analytics.notifications';

function refusal(raw: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    notificationTargets(raw, WHERE, env);
  } catch (e) {
    if (!(e instanceof TracerError) || e.code !== 'HT_ERR_OPTION') throw e;
    return e.message;
  }
  throw new Error('expected a refusal');
}

t.test('configured targets, with defaults', async (t) => {
  t.same(notificationTargets(undefined, WHERE, {}), []);
  t.same(notificationTargets([], WHERE, {}), []);
  t.strictSame(
    notificationTargets(
      [
        { name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9093' },
        { name: 'ops', type: 'webhook', url: 'https://hooks.example/alerts?x=1#frag', headers: { Authorization: 'Bearer s3cret' }, timeout_seconds: 2.5 },
        { name: 'slack', type: 'slack', url: 'https://hooks.slack.com/services/T0/B0/XXXX' },
        { name: 'basic', type: 'webhook', url: 'http://us%40er:p%3Ass@127.0.0.1:8000/hook' },
      ],
      WHERE,
      {},
    ),
    [
      { name: 'am', kind: 'alertmanager', url: 'http://127.0.0.1:9093/', headers: {}, timeoutMs: 10_000 },
      { name: 'ops', kind: 'webhook', url: 'https://hooks.example/alerts?x=1', headers: { authorization: 'Bearer s3cret' }, timeoutMs: 2500 },
      { name: 'slack', kind: 'slack', url: 'https://hooks.slack.com/services/T0/B0/XXXX', headers: {}, timeoutMs: 10_000 },
      { name: 'basic', kind: 'webhook', url: 'http://127.0.0.1:8000/hook', headers: { authorization: `Basic ${Buffer.from('us@er:p:ss').toString('base64')}` }, timeoutMs: 10_000 },
    ],
  );
});

t.test('the variables add targets; the environment wins over the file; empty is unset', async (t) => {
  const env = {
    HTTP_TRACER_ALERTMANAGER_URL: 'http://127.0.0.1:9093',
    HTTP_TRACER_ALERT_WEBHOOK_URL: 'http://127.0.0.1:8000/hook',
    HTTP_TRACER_ALERT_SLACK_URL: '',
  };
  t.strictSame(notificationTargets(undefined, WHERE, env), [
    { name: 'alertmanager', kind: 'alertmanager', url: 'http://127.0.0.1:9093/', headers: {}, timeoutMs: 10_000 },
    { name: 'webhook', kind: 'webhook', url: 'http://127.0.0.1:8000/hook', headers: {}, timeoutMs: 10_000 },
  ]);
  const merged = notificationTargets(
    [
      { name: 'alertmanager', type: 'alertmanager', url: 'http://10.0.0.1:9093', timeout_seconds: 1 },
      { name: 'ops', type: 'webhook', url: 'http://127.0.0.1:8001' },
    ],
    WHERE,
    { HTTP_TRACER_ALERTMANAGER_URL: 'http://127.0.0.1:9093' },
  );
  t.same(
    merged.map((x) => [x.name, x.url, x.timeoutMs]),
    [
      ['alertmanager', 'http://127.0.0.1:9093/', 10_000],
      ['ops', 'http://127.0.0.1:8001/', 10_000],
    ],
  );
});

t.test('refusals name the key, show the value and say why', async (t) => {
  const am = { name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9093' };
  const cases: [unknown, string][] = [
    [{ name: 'am' }, `${WHERE}: {"name":"am"} must be an array of targets ({"name", "type", "url"})`],
    [['x'], `${WHERE}[0]: "x" must be an object with "name", "type", "url", "headers", "timeout_seconds"`],
    [[am, { ...am, name: 'b', url: 'ftp://x' }], `${WHERE}[1].url: "ftp://x" must be an http or https URL`],
    [[{ ...am, url: 'not a url' }], `${WHERE}[0].url: "not a url" must be an http or https URL`],
    [[{ ...am, url: 9093 }], `${WHERE}[0].url: 9093 must be an http or https URL`],
    [[{ name: 'am', type: 'alertmanager' }], `${WHERE}[0].url: is required`],
    [[{ ...am, urls: 'x' }], `${WHERE}[0].urls: is not a known key; did you mean "url"? (known here: name, type, url, headers, timeout_seconds)`],
    [[{ ...am, retries: 3 }], `${WHERE}[0].retries: is not a known key (known here: name, type, url, headers, timeout_seconds)`],
    [[{ ...am, type: 'pagerduty' }], `${WHERE}[0].type: "pagerduty" must be one of alertmanager, webhook, slack`],
    [[{ name: 'am', url: 'http://x' }], `${WHERE}[0].type: is required: one of alertmanager, webhook, slack`],
    [[{ type: 'webhook', url: 'http://x' }], `${WHERE}[0].name: is required (rules name it in notification_channels)`],
    [[{ ...am, name: 'has space' }], `${WHERE}[0].name: "has space" must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit`],
    [[{ ...am, name: 'slack' }], `${WHERE}[0].name: "slack" is the name of a target type; an alertmanager target cannot take it (channels naming "slack" mean every slack target)`],
    [[am, { ...am, url: 'http://127.0.0.1:9094' }], `${WHERE}[1].name: "am" is already the name of ${WHERE}[0]; names must be unique`],
    [[{ ...am, timeout_seconds: 0 }], `${WHERE}[0].timeout_seconds: 0 must be a number of seconds from 0.1 to 300`],
    [[{ ...am, timeout_seconds: '5' }], `${WHERE}[0].timeout_seconds: "5" must be a number of seconds from 0.1 to 300`],
    [[{ ...am, headers: ['a'] }], `${WHERE}[0].headers: ["a"] must be an object of header names and string values`],
    [[{ ...am, headers: { 'X-Token': 5 } }], `${WHERE}[0].headers.X-Token: must be a string`],
    [[{ ...am, headers: { 'X-Token': 'a\r\nInjected: 1' } }], `${WHERE}[0].headers.X-Token: is not a valid HTTP header (a token for a name; a value without line breaks)`],
    [[{ ...am, headers: { 'bad name': 'x' } }], `${WHERE}[0].headers.bad name: is not a valid HTTP header (a token for a name; a value without line breaks)`],
    [[{ ...am, headers: { 'Content-Type': 'text/plain' } }], `${WHERE}[0].headers.Content-Type: is set by the agent; remove it`],
  ];
  for (const [raw, message] of cases) t.equal(refusal(raw), message, message);
  t.equal(refusal(undefined, { HTTP_TRACER_ALERTMANAGER_URL: 'ftp://x' }), 'HTTP_TRACER_ALERTMANAGER_URL: "ftp://x" must be an http or https URL');
  t.equal(refusal(undefined, { HTTP_TRACER_ALERT_WEBHOOK_URL: 'localhost:8000' }), 'HTTP_TRACER_ALERT_WEBHOOK_URL: "localhost:8000" must be an http or https URL');
  t.equal(refusal(undefined, { HTTP_TRACER_ALERT_SLACK_URL: '/relative' }), 'HTTP_TRACER_ALERT_SLACK_URL: "/relative" must be an http or https URL');
});

t.test('stats show URLs without what may be a secret', async (t) => {
  t.equal(shownUrl({ kind: 'alertmanager', url: 'http://127.0.0.1:9093/' }), 'http://127.0.0.1:9093');
  t.equal(shownUrl({ kind: 'alertmanager', url: 'http://proxy/am/?token=x' }), 'http://proxy/am/');
  t.equal(shownUrl({ kind: 'slack', url: 'https://hooks.slack.com/services/T0/B0/XXXX' }), 'https://hooks.slack.com/services/…');
  t.equal(shownUrl({ kind: 'webhook', url: 'https://hooks.example/alerts' }), 'https://hooks.example/alerts');
  t.equal(shownUrl({ kind: 'webhook', url: 'https://hooks.example/alerts?token=x' }), 'https://hooks.example/alerts/…');
  t.equal(shownUrl({ kind: 'webhook', url: 'http://127.0.0.1:8000/' }), 'http://127.0.0.1:8000');
});
