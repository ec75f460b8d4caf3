/**
 * The live query scheduler: one evaluation per distinct query for all its
 * listeners, the last result at once for a new listener, the time budget
 * (evaluations that cost real main-thread time spread out, the event loop
 * free between them), failures reported, a query gone with its last listener.
 */
import t from 'tap';
import { QueryScheduler, type QueryListener } from '../../src/server/live/query-scheduler';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds the thread for `ms`, as a store query over many series does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

function listener() {
  const updates: string[] = [];
  const failures: string[] = [];
  const l: QueryListener = { update: (json) => updates.push(json), fail: (m) => failures.push(m) };
  return { l, updates, failures };
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(5);
  }
}

t.test('identical queries: one evaluation, every listener gets the same result', async (t) => {
  const s = new QueryScheduler(1000);
  t.teardown(() => s.close());
  let runs = 0;
  const spec = { evaluate: () => `{"run":${++runs}}`, refreshMs: 60_000 };
  const [a, b, c] = [listener(), listener(), listener()];
  s.subscribe('q', spec, a.l);
  s.subscribe('q', spec, b.l);
  s.subscribe('q', spec, c.l);
  t.same(a.updates, [], 'nothing evaluated inline');
  await until('the first evaluation', () => a.updates.length === 1);
  t.equal(runs, 1);
  t.same([a.updates, b.updates, c.updates], [['{"run":1}'], ['{"run":1}'], ['{"run":1}']]);
  const late = listener();
  s.subscribe('q', spec, late.l);
  t.same(late.updates, ['{"run":1}'], 'a new listener gets the last result at once');
  t.equal(runs, 1, 'without an evaluation');
  t.same(s.stats().queries, 1);
});

t.test('refreshed every refreshMs while listened to; gone with the last listener', async (t) => {
  const s = new QueryScheduler(1000);
  t.teardown(() => s.close());
  let runs = 0;
  const a = listener();
  const b = listener();
  const spec = { evaluate: () => String(++runs), refreshMs: 50 };
  s.subscribe('q', spec, a.l);
  s.subscribe('q', spec, b.l);
  await until('three evaluations', () => runs >= 3, 2000);
  s.unsubscribe('q', a.l);
  t.equal(s.size, 1, 'b still listens');
  s.unsubscribe('q', b.l);
  t.equal(s.size, 0);
  const after = runs;
  await sleep(200);
  t.equal(runs, after, 'no evaluation once nobody listens');
  t.equal(s.listenerCount('q'), 0);
});

t.test('an evaluation that throws: each listener told, the query tried again later', async (t) => {
  const s = new QueryScheduler(1000);
  t.teardown(() => s.close());
  let runs = 0;
  const a = listener();
  s.subscribe('bad', { evaluate: () => (++runs === 1 ? (() => { throw new Error('window: 2d is beyond the retention of 1d'); })() : 'ok'), refreshMs: 30 }, a.l);
  await until('a retry', () => a.updates.length === 1);
  t.same(a.failures, ['window: 2d is beyond the retention of 1d']);
  t.same(a.updates, ['ok']);
});

t.test('the time budget: costly queries spread out, the event loop gets a turn after each', async (t) => {
  const BUDGET_MS = 200;
  const COST_MS = 20;
  const QUERIES = 40;
  const s = new QueryScheduler(BUDGET_MS);
  t.teardown(() => s.close());
  // A timer every 5 ms; each evaluation notes how many times it fired before it. Inline
  // evaluation would run all 40 first rounds (800 ms) with the timer never firing.
  let ticks = 0;
  const tick = setInterval(() => ticks++, 5);
  const ticksAtEvaluation: number[] = [];
  const answered = new Set<string>();
  for (let i = 0; i < QUERIES; i++) {
    const key = `q${i}`;
    const evaluate = () => {
      ticksAtEvaluation.push(ticks);
      busy(COST_MS);
      return key;
    };
    s.subscribe(key, { evaluate, refreshMs: 100 }, { update: () => answered.add(key), fail: () => undefined });
  }
  const started = performance.now();
  await until('every query answered once', () => answered.size === QUERIES, 20_000);
  await sleep(1000);
  clearInterval(tick);
  const elapsedS = (performance.now() - started) / 1000;
  const { evaluations, evaluationMs, maxEvaluationMs } = s.stats();
  // At most the initial credit (a tenth of a second's budget) plus the refill, plus one evaluation past zero.
  const allowedMs = BUDGET_MS * (0.1 + elapsedS) + maxEvaluationMs;
  t.ok(evaluationMs <= allowedMs, `${evaluations} evaluations took ${evaluationMs.toFixed(0)} ms in ${elapsedS.toFixed(2)} s (budget allows ${allowedMs.toFixed(0)})`);
  t.ok(evaluations >= QUERIES, 'each query evaluated');
  const backToBack = ticksAtEvaluation.filter((n, i) => i > 0 && n === ticksAtEvaluation[i - 1]).length;
  t.equal(backToBack, 0, `timers ran between every two of the ${ticksAtEvaluation.length} evaluations`);
});
