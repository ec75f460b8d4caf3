/**
 * The per-connection message rate: a burst, then refusals, then a close for
 * a client that keeps sending; tokens come back with time.
 */
import t from 'tap';
import { MessageRate } from '../../src/server/live/message-rate';

t.test('a burst is handled, the rest refused, and a flood closed', async (t) => {
  let now = 0;
  const rate = new MessageRate({ perSecond: 2, burst: 3 }, () => now);
  t.same([rate.admit(), rate.admit(), rate.admit()], ['handle', 'handle', 'handle'], 'the burst');
  t.same([rate.admit(), rate.admit()], ['refuse', 'refuse'], 'no token left');
  t.equal(rate.admit(), 'close', 'burst refusals in a row: flooding');
});

t.test('tokens refill at perSecond, up to the burst; a handled message ends a run of refusals', async (t) => {
  let now = 0;
  const rate = new MessageRate({ perSecond: 2, burst: 3 }, () => now);
  for (let i = 0; i < 3; i++) rate.admit();
  t.equal(rate.admit(), 'refuse');
  now = 499;
  t.equal(rate.admit(), 'refuse', 'not yet a whole token');
  now = 500;
  t.equal(rate.admit(), 'handle', 'one token after half a second');
  t.equal(rate.admit(), 'refuse');
  t.equal(rate.admit(), 'refuse', 'the run restarted: two refusals, not three');
  now = 60_500;
  t.same([rate.admit(), rate.admit(), rate.admit(), rate.admit()], ['handle', 'handle', 'handle', 'refuse'], 'a long pause gives back the burst, no more');
});
