/**
 * worker_threads' default, "auto": what the node can give (min(4, cores − 1),
 * at least 1), while the seed's explicit value and the variable still win.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FAMILIES } from '../../src/analytics/families';
import { loadAnalyticsOptions } from '../../src/config/analytics-config';
import { autoWorkerThreads, resolveEngineOptions } from '../../src/pipeline/engine-options';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workers-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(analytics: Record<string, unknown>): string {
  const p = path.join(dir, `c${n++}.json`);
  fs.writeFileSync(p, JSON.stringify({ output: { analytics } }));
  return p;
}

t.test('"auto" is one fewer than the cores, from 1 to 4', async (t) => {
  t.same([1, 2, 3, 4, 5, 8, 64].map((cores) => autoWorkerThreads(cores)), [1, 1, 2, 3, 4, 4, 4]);
  t.equal(autoWorkerThreads(0), 1, 'never none');
  t.equal(autoWorkerThreads(), autoWorkerThreads(os.availableParallelism()), 'this node by default');
});

t.test('the engine defaults to "auto"; an explicit number wins', async (t) => {
  const resolve = (workerThreads?: number | 'auto') => resolveEngineOptions({ clockOffsetMs: 0, workerThreads }, FAMILIES).workerThreads;
  t.equal(resolve(), autoWorkerThreads());
  t.equal(resolve('auto'), autoWorkerThreads());
  t.equal(resolve(4), 4, "the seed's value");
  t.equal(resolve(7), 7);
  t.throws(() => resolve(0), { message: 'workerThreads: 0 must be an integer in [1, 64]' });
});

t.test('the file and the variable take "auto" or a number; the variable wins', async (t) => {
  t.equal(loadAnalyticsOptions(undefined, {}).options.workerThreads, undefined, 'unset: the engine picks "auto"');
  t.equal(loadAnalyticsOptions(file({ worker_threads: 'auto' }), {}).options.workerThreads, 'auto');
  t.equal(loadAnalyticsOptions(file({ worker_threads: 4 }), {}).options.workerThreads, 4);
  t.equal(loadAnalyticsOptions(undefined, { HTTP_TRACER_ANALYTICS_WORKER_THREADS: 'auto' }).options.workerThreads, 'auto');
  t.equal(loadAnalyticsOptions(file({ worker_threads: 4 }), { HTTP_TRACER_ANALYTICS_WORKER_THREADS: 'auto' }).options.workerThreads, 'auto');
  t.equal(loadAnalyticsOptions(file({ worker_threads: 'auto' }), { HTTP_TRACER_ANALYTICS_WORKER_THREADS: '2' }).options.workerThreads, 2);
});

t.test('a bad value is refused with what the option takes and its default', async (t) => {
  t.throws(() => loadAnalyticsOptions(file({ worker_threads: 'many' }), {}), {
    code: 'HT_ERR_OPTION',
    message: /output\.analytics\.worker_threads: "many" must be an integer, or "auto" \(the default: one fewer than the cores, from 1 to 4\)$/,
  });
  t.throws(() => loadAnalyticsOptions(undefined, { HTTP_TRACER_ANALYTICS_WORKER_THREADS: 'Auto' }), {
    code: 'HT_ERR_OPTION',
    message: 'HTTP_TRACER_ANALYTICS_WORKER_THREADS: "Auto" must be a whole number, or "auto" (the default: one fewer than the cores, from 1 to 4)',
  });
});
