import t from 'tap';
import { LossWatch } from '../../src/server/loss-watch';

t.test('losses in about the last minute, from samples taken when asked', async (t) => {
  let now = 0;
  let total = 0;
  const w = new LossWatch(() => total, () => now);
  t.equal(w.recent(), 0);
  total = 5;
  now = 10_000;
  t.equal(w.recent(), 5, 'lost since the first sample');
  now = 70_000;
  t.equal(w.recent(), 0, 'a minute later, nothing new');
  total = 7;
  now = 75_000;
  t.equal(w.recent(), 2);
  now = 200_000;
  t.equal(w.recent(), 0, 'quiet again');
});
