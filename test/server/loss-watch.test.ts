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

t.test('the baseline is the start (counters at 0), not the first question', async (t) => {
  let now = 1_000;
  let total = 0;
  const w = new LossWatch(() => total, () => now, 0);
  total = 40; // lost 1 s after the start, before anyone asked
  now = 20_000;
  t.equal(w.recent(), 40, 'the first question sees them');
  now = 90_000;
  t.equal(w.recent(), 0, 'and a minute later they are old');
});

t.test('samples taken on a timer keep the minute exact between questions', async (t) => {
  let now = 0;
  let total = 0;
  const w = new LossWatch(() => total, () => now, 0);
  for (now = 5_000; now <= 120_000; now += 5_000) {
    if (now === 30_000) total = 10; // lost at 30 s
    w.sample();
  }
  now = 125_000;
  t.equal(w.recent(), 0, 'lost 95 s ago: not in the last minute');
});
