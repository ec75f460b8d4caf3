/**
 * The store's compact bucket records: lossless round trips (count, sum, min,
 * max, every 1 % bucket count; the values themselves while few), and the tier
 * string that holds one record per slot.
 */
import t from 'tap';
import { Distribution } from '../../src/analytics/distribution';
import { LogHistogram } from '../../src/analytics/log-histogram';
import { decode, encode, EXACT_MAX, recordAt, recordStarts, withRecord } from '../../src/analytics/slot-codec';
import { random } from '../helpers/streams';

t.test('round trip: few values exactly, more as the same 1 % buckets with exact count, sum, min and max', async (t) => {
  const rnd = random(3);
  let good = 0;
  const rounds = 400;
  for (let round = 0; round < rounds; round++) {
    const n = 1 + Math.floor(rnd() * (round % 4 === 0 ? 5000 : 100));
    const decades = 1 + Math.floor(rnd() * 8);
    const d = new Distribution();
    for (let i = 0; i < n; i++) d.record(rnd() < 0.05 ? 0 : 1e-6 * Math.pow(10, decades * rnd()));
    const data = d.toData();
    const back = decode(encode(data), 0);
    let ok = back.count === data.count && back.sum === data.sum && back.min === data.min && back.max === data.max;
    if (n <= EXACT_MAX) ok &&= JSON.stringify(back.samples) === JSON.stringify(data.samples);
    else {
      const want = new LogHistogram();
      want.merge(data.sketch ?? LogHistogram.from({ offset: 0, counts: new Uint32Array(0), zeroCount: 0, count: 0, sum: 0, min: Infinity, max: -Infinity }).toData());
      if (!data.sketch) data.samples!.forEach((v) => want.record(v));
      const a = want.toData();
      const b = back.sketch!;
      ok &&= a.offset === b.offset && a.zeroCount === b.zeroCount && JSON.stringify([...a.counts]) === JSON.stringify([...b.counts]);
    }
    if (ok) good++;
  }
  t.equal(good, rounds);
});

t.test('huge counts in one bucket stay exact and small', async (t) => {
  const h = new LogHistogram();
  h.record(0.002, 4_000_000_000);
  h.record(0.5, 1);
  h.record(0, 7);
  const d = new Distribution();
  d.merge({ count: h.count, sum: h.sum, min: h.min, max: h.max, sketch: h.toData() });
  const s = encode(d.toData());
  t.ok(s.length < 60, `${s.length} bytes`);
  const back = decode(s, 0);
  t.same([...back.sketch!.counts].filter((c) => c > 0), [4_000_000_000, 1]);
  t.equal(back.sketch!.zeroCount, 7);
  t.equal(back.count, 4_000_000_008);
});

t.test('the tier string: records by slot, replaced and emptied', async (t) => {
  const rec = (v: number): string => encode({ count: 1, sum: v, min: v, max: v, samples: [v] });
  let tier = '';
  tier = withRecord(tier, 5, rec(5));
  tier = withRecord(tier, 2, rec(2));
  tier = withRecord(tier, 90, rec(90));
  const starts = recordStarts(tier, 91);
  t.same([...starts.keys()].filter((i) => starts[i] >= 0), [2, 5, 90]);
  t.same([2, 5, 90].map((slot) => decode(tier, recordAt(tier, slot)).samples), [[2], [5], [90]]);
  t.equal(recordAt(tier, 3), -1);
  t.equal(recordAt(tier, 200), -1);
  tier = withRecord(tier, 90, '');
  tier = withRecord(tier, 5, rec(6));
  t.same(decode(tier, recordAt(tier, 5)).samples, [6]);
  t.equal(recordAt(tier, 90), -1);
  tier = withRecord(withRecord(tier, 2, ''), 5, '');
  t.equal(tier, '', 'all empty: nothing kept');
});
