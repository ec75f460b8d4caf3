/** ChangeLog: a condition is logged when it changes, never once per event. */
import t from 'tap';
import { ChangeLog } from '../../src/log/change-log';

function recorder(): { lines: string[]; changes: ChangeLog<string> } {
  const lines: string[] = [];
  const changes = new ChangeLog<string>({
    changed: (key, state, was) => lines.push(`${key} ${was ?? 'ok'} -> ${state}`),
    cleared: (key, was) => lines.push(`${key} ${was} -> ok`),
  });
  return { lines, changes };
}

t.test('the same state again and again: one line; another state: one more; well again: one more', async (t) => {
  const { lines, changes } = recorder();
  t.equal(changes.set('mimir', 'HTTP 503'), true);
  for (let i = 0; i < 1000; i++) t.equal(changes.set('mimir', 'HTTP 503'), false);
  t.equal(changes.set('mimir', 'ECONNREFUSED'), true);
  t.equal(changes.set('mimir', undefined), true);
  t.equal(changes.set('mimir', undefined), false);
  t.same(lines, ['mimir ok -> HTTP 503', 'mimir HTTP 503 -> ECONNREFUSED', 'mimir ECONNREFUSED -> ok']);
});

t.test('a key that was never in trouble logs nothing when well; keys are independent', async (t) => {
  const { lines, changes } = recorder();
  t.equal(changes.set('a', undefined), false);
  changes.set('a', 'down');
  changes.set('b', 'down');
  changes.set('a', 'down');
  changes.set('b', undefined);
  t.same(lines, ['a ok -> down', 'b ok -> down', 'b down -> ok']);
  t.equal(changes.get('a'), 'down');
  t.equal(changes.get('b'), undefined);
});

t.test('same: a failure whose words vary per attempt is one condition', async (t) => {
  const lines: string[] = [];
  const changes = new ChangeLog<{ status: number; body: string }>({
    changed: (key, state) => lines.push(`${key} failing: ${state.status} ${state.body}`),
    cleared: (key) => lines.push(`${key} ok`),
    same: (a, b) => a.status === b.status,
  });
  changes.set('mimir', { status: 400, body: 'out of order sample at ts=1' });
  changes.set('mimir', { status: 400, body: 'out of order sample at ts=2' });
  changes.set('mimir', { status: 503, body: 'unavailable' });
  changes.set('mimir', undefined);
  t.same(lines, ['mimir failing: 400 out of order sample at ts=1', 'mimir failing: 503 unavailable', 'mimir ok']);
});
