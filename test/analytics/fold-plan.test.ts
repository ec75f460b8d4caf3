import t from 'tap';
import { FAMILIES, type MetricFamily } from '../../src/analytics/families';
import { NO_HTTP_IDENTITY, NO_WORKLOAD } from '../helpers/identity-labels';
import { FoldPlan, OVERFLOW, statusCodeClass } from '../../src/analytics/fold-plan';

const family = (name: string): MetricFamily => FAMILIES.find((f) => f.name === name)!;
const O = OVERFLOW;
/** An HTTP family's labels: the given ones, then the empty identity labels. */
const h = (...labels: string[]): string[] => [...labels, ...NO_HTTP_IDENTITY];
const n = (...labels: string[]): string[] => [...labels, ...NO_WORKLOAD];

function ladder(name: string, labels: string[]): string[][] {
  const plan = new FoldPlan(family(name));
  return Array.from({ length: plan.floor + 1 }, (_, step) => plan.labelsAt(labels, step, labels[plan.serviceIndex]));
}

t.test('the duration histogram folds route, then peer name, then port, then method; status_code folds to its class only at the floor; error_type stays', async (t) => {
  // A client's series with a named peer (server_address, the last label).
  const c = (peer: string, ...labels: string[]): string[] => [...labels, ...NO_WORKLOAD, peer];
  t.same(ladder('http_request_duration_seconds', c('api.shop', 'web', 'client', '80', 'GET', '/users/{id}', '503', '5xx')), [
    c('api.shop', 'web', 'client', '80', 'GET', '/users/{id}', '503', '5xx'),
    c('api.shop', 'web', 'client', '80', 'GET', O, '503', '5xx'),
    c(O, 'web', 'client', '80', 'GET', O, '503', '5xx'),
    c(O, 'web', 'client', O, 'GET', O, '503', '5xx'),
    c(O, 'web', 'client', O, O, O, '503', '5xx'),
    c(O, 'web', 'client', O, O, O, '5xx', '5xx'),
  ]);
  t.same(ladder('http_request_duration_seconds', h('api:80', 'server', '80', 'GET', '/a', '200', '')).at(2), h('api:80', 'server', '80', 'GET', O, '200', ''), 'no peer name: an empty label stays empty');
});

t.test('every family keeps its service, side, status class and error type at the floor', async (t) => {
  const floor = (name: string, labels: string[]): string[] => ladder(name, labels).at(-1)!;
  t.same(floor('http_requests_total', h('api:80', 'server', '80', 'POST', '/a')), h('api:80', 'server', O, 'POST', O));
  t.same(floor('http_responses_total', h('api:80', 'server', '80', '404', '4xx')), h('api:80', 'server', O, '4xx', '4xx'));
  t.same(floor('http_response_size_bytes', h('api:80', 'client', '443', '/a')), h('api:80', 'client', O, O));
  t.same(floor('http_errors_total', h('api:80', 'server', '80', '/a', '0', 'aborted')), h('api:80', 'server', O, O, '0', 'aborted'), 'no status stays "0"');
  t.same(ladder('process_events_total', ['nginx', '77']), [['nginx', '77'], ['nginx', O]], 'no pid; the cgroup folds, the process name stays');
  t.same(ladder('network_bytes_total', n('api:80', 'server', 'tcp', 'rx')), [n('api:80', 'server', 'tcp', 'rx')], 'nothing unbounded: its own series is its floor');
});

t.test('folding is idempotent and recognised, whoever folded first', async (t) => {
  const plan = new FoldPlan(family('http_request_duration_seconds'));
  const floor = plan.labelsAt(h('api:80', 'server', '80', 'GET', '/a', '500', '5xx'), plan.floor, 'api:80');
  t.same(plan.labelsAt(floor, plan.floor, 'api:80'), floor);
  t.equal(plan.isFolded(floor), true);
  t.equal(plan.isFolded(h('api:80', 'server', '80', 'GET', '/a', '500', '5xx')), false);
  t.equal(plan.isFolded(h(O, 'server', '80', 'GET', '/a', '500', '5xx')), true, 'the OVERFLOW service');
  t.equal(plan.isFolded(h('api:80', 'server', '80', 'GET', '/a', '0', 'aborted')), false, 'no status is a value, not a fold');
});

t.test('status classes of codes', async (t) => {
  t.same(['200', '503', '0', '5xx', '999', ''].map(statusCodeClass), ['2xx', '5xx', '0', '5xx', '9xx', O]);
});

t.test('a plan that cannot be made names the family and the label', async (t) => {
  const bad = { ...family('http_requests_total'), name: 'x_total', foldOrder: ['colour'] };
  t.throws(() => new FoldPlan(bad), { message: 'family x_total: "colour" is not one of its labels' });
  const both = { ...family('http_requests_total'), name: 'y_total', foldOrder: ['method'] };
  t.throws(() => new FoldPlan(both), { message: 'family y_total: method is both in foldOrder and keptOnOverflow' });
});
