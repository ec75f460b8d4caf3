/**
 * Components start in order and shut down in reverse, once; a failed start
 * shuts down what started (and the failed one, which must cope), and keeps
 * its own error.
 */
import t from 'tap';
import { component, startInOrder, type Component } from '../../src/agent/component';

function recorder() {
  const log: string[] = [];
  const part = (name: string, opts: { failStart?: boolean; failShutdown?: boolean } = {}): Component => ({
    name,
    start: async () => {
      log.push(`start ${name}`);
      if (opts.failStart) throw new Error(`${name} cannot start`);
    },
    shutdown: async () => {
      log.push(`shutdown ${name}`);
      if (opts.failShutdown) throw new Error(`${name} cannot stop`);
    },
  });
  return { log, part };
}

t.test('in order, then in reverse; shutdown is idempotent', async (t) => {
  const { log, part } = recorder();
  const shutdown = await startInOrder([part('engine'), part('capture'), part('server')]);
  t.same(log.splice(0), ['start engine', 'start capture', 'start server']);
  await Promise.all([shutdown(), shutdown()]);
  await shutdown();
  t.same(log, ['shutdown server', 'shutdown capture', 'shutdown engine']);
});

t.test('a failed start: the ones before it (and it) shut down in reverse, its error kept', async (t) => {
  const { log, part } = recorder();
  await t.rejects(startInOrder([part('engine'), part('capture', { failShutdown: true }), part('server', { failStart: true }), part('never')]), { message: 'server cannot start' });
  t.same(log, ['start engine', 'start capture', 'start server', 'shutdown server', 'shutdown capture', 'shutdown engine']);
});

t.test('a failing shutdown does not keep the others running; its error comes out after', async (t) => {
  const { log, part } = recorder();
  const shutdown = await startInOrder([part('engine'), part('capture', { failShutdown: true }), part('server')]);
  log.length = 0;
  await t.rejects(shutdown(), { message: 'capture cannot stop' });
  t.same(log, ['shutdown server', 'shutdown capture', 'shutdown engine']);
});

t.test('component(): value once made, stopped once, never stopped if never made', async (t) => {
  const stops: string[] = [];
  const a = component('a', async () => ({ id: 'a' }), (v) => void stops.push(v.id));
  const b = component('b', () => ({ id: 'b' }), (v) => void stops.push(v.id));
  t.throws(() => a.value, { message: 'a: not started' });
  t.equal(a.current, undefined);
  await b.shutdown();
  await a.start();
  t.same(a.value, { id: 'a' });
  await Promise.all([a.shutdown(), a.shutdown()]);
  t.same(stops, ['a'], 'b was never made: nothing to stop; a stopped once');
  const failing = component('c', () => {
    throw new Error('no');
  }, () => void stops.push('c'));
  await t.rejects(Promise.resolve().then(() => failing.start()), { message: 'no' });
  await failing.shutdown();
  t.same(stops, ['a']);
});
