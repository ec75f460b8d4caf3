/**
 * The instance state machine on a fake clock (evaluations every 10 s):
 * pending → firing after exactly the duration and not before, resolve,
 * pending cleared, duration 0, the anomaly minimum of two evaluations; and
 * compare() over every condition, NaN never holding.
 */
import t from 'tap';
import { compare, missingValue, nextPhase, type Phase, type Transition } from '../../src/alerting/instance-state';
import type { Condition } from '../../src/alerting/types';

const T0 = 1_800_000_000_000;
const STEP = 10_000;

/** Runs the machine over `holds` (one per evaluation, 10 s apart); the transition and state after each. */
function run(holds: boolean[], durationMs: number, minEvaluations = 1): [Transition, string][] {
  let phase: Phase | undefined;
  return holds.map((h, i) => {
    const next = nextPhase(phase, h, T0 + i * STEP, durationMs, minEvaluations);
    phase = next.phase;
    return [next.transition, phase?.state ?? '-'];
  });
}

t.test('compare: every condition, NaN never holds', async (t) => {
  const cases: [Condition, number, number, boolean][] = [
    ['gt', 2, 1, true],
    ['gt', 1, 1, false],
    ['gte', 1, 1, true],
    ['gte', 0.9, 1, false],
    ['lt', 0, 1, true],
    ['lt', 1, 1, false],
    ['lte', 1, 1, true],
    ['lte', 1.1, 1, false],
    ['eq', 1, 1, true],
    ['eq', 1.0001, 1, false],
    ['ne', 1.0001, 1, true],
    ['ne', 1, 1, false],
  ];
  for (const [c, v, th, expected] of cases) t.equal(compare(c, v, th), expected, `${v} ${c} ${th}`);
  for (const c of ['gt', 'lt', 'eq', 'ne', 'gte', 'lte'] as const) t.equal(compare(c, NaN, 1), false, `NaN ${c}`);
  t.same([missingValue('count'), missingValue('rate'), missingValue('fraction'), missingValue('seconds'), missingValue('bytes')], [0, 0, 0, NaN, NaN]);
});

t.test('pending, then firing once the condition has held for exactly the duration', async (t) => {
  // 30 s: pending at 0 s, still pending at 10 s and 20 s, fires at 30 s.
  t.same(run([true, true, true, true, true], 30_000), [
    ['pending', 'pending'],
    ['none', 'pending'],
    ['none', 'pending'],
    ['fired', 'firing'],
    ['none', 'firing'],
  ]);
  // The condition breaks at 20 s: cleared; it starts over at 30 s and fires 30 s later.
  t.same(run([true, true, false, true, true, true, true], 30_000), [
    ['pending', 'pending'],
    ['none', 'pending'],
    ['cleared', '-'],
    ['pending', 'pending'],
    ['none', 'pending'],
    ['none', 'pending'],
    ['fired', 'firing'],
  ]);
  const fired = nextPhase({ state: 'pending', activeSince: T0, evaluations: 3 }, true, T0 + 30_000, 30_000);
  t.same(fired.phase, { state: 'firing', activeSince: T0, firedAt: T0 + 30_000, evaluations: 4 });
  t.same(nextPhase({ state: 'pending', activeSince: T0, evaluations: 3 }, true, T0 + 29_999, 30_000).transition, 'none', 'one ms short: not yet');
});

t.test('duration 0 fires at the first evaluation; resolve; fire again', async (t) => {
  t.same(run([false, true, true, false, false, true], 0), [
    ['none', '-'],
    ['fired', 'firing'],
    ['none', 'firing'],
    ['resolved', 'resolved'],
    ['none', 'resolved'],
    ['fired', 'firing'],
  ]);
  const resolved = nextPhase({ state: 'firing', activeSince: T0, firedAt: T0 + 10_000, evaluations: 2 }, false, T0 + 20_000, 10_000);
  t.same(resolved.phase, { state: 'resolved', activeSince: T0, firedAt: T0 + 10_000, resolvedAt: T0 + 20_000, evaluations: 0 });
  const again = nextPhase(resolved.phase, true, T0 + 30_000, 10_000);
  t.same(again, { phase: { state: 'pending', activeSince: T0 + 30_000, evaluations: 1 }, transition: 'pending' }, 'a new round after resolving');
});

t.test('a minimum of evaluations: an anomaly with duration 0 needs two in a row', async (t) => {
  t.same(run([true, false, true, true, true], 0, 2), [
    ['pending', 'pending'],
    ['cleared', '-'],
    ['pending', 'pending'],
    ['fired', 'firing'],
    ['none', 'firing'],
  ]);
  t.same(
    run([true, true, true, true], 25_000, 2).map(([tr]) => tr),
    ['pending', 'none', 'none', 'fired'],
    'and the duration when longer',
  );
});
