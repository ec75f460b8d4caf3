/**
 * One tier slot's sealed records: found by series number, dropped, and the
 * space reused whole once the bucket ages out.
 */
import t from 'tap';
import { Distribution } from '../../src/analytics/distribution';
import { RecordView } from '../../src/analytics/sketch-codec';
import { SlotArena } from '../../src/analytics/slot-arena';

function bucket(...values: number[]): Distribution {
  const d = new Distribution();
  values.forEach((v) => d.record(v));
  return d;
}

const read = (arena: SlotArena, id: number): number[] | undefined => {
  const view = new RecordView();
  return arena.read(id, view) ? [view.count, view.sum, ...view.samples!] : undefined;
};

t.test('records by series number; drop; a second record for one series is refused', async (t) => {
  const arena = new SlotArena();
  arena.seal(7, bucket(0.3, 0.1).toData());
  arena.seal(0, bucket(2).toData());
  arena.seal(200, bucket(0.25, 0.5, 0.75).toData());
  t.same([read(arena, 7), read(arena, 0), read(arena, 200), read(arena, 1), read(arena, 5000)], [[2, 0.3 + 0.1, 0.1, 0.3], [1, 2, 2], [3, 1.5, 0.25, 0.5, 0.75], undefined, undefined]);
  t.equal(arena.records, 3);
  t.throws(() => arena.seal(7, bucket(1).toData()), { message: 'slot-arena: series 7 already has a record here' });
  arena.drop(7);
  arena.drop(7);
  t.same([arena.records, read(arena, 7)], [2, undefined], 'dropped once, counted once');
  const used = arena.used;
  arena.seal(7, bucket(0.3, 0.1, 0.2).toData());
  t.same(read(arena, 7), [3, 0.3 + 0.1 + 0.2, 0.1, 0.2, 0.3], 'sealed again after its values changed');
  t.ok(arena.used > used, 'the new record goes at the end; the old bytes wait for the bucket to go');
});

t.test('after the bucket ages out the space is reused, not given back', async (t) => {
  const arena = new SlotArena();
  for (let id = 0; id < 1000; id++) arena.seal(id, bucket(id / 1000, 1).toData());
  arena.trim();
  const buffer = arena.bytes.buffer;
  const capacity = arena.bytes.length;
  t.equal(capacity, arena.used, 'trimmed to what is used');
  arena.clear();
  t.same([arena.used, arena.records, read(arena, 0), read(arena, 999)], [0, 0, undefined, undefined], 'every record gone');
  for (let id = 999; id >= 0; id--) arena.seal(id, bucket(1, id / 1000).toData()); // the same bytes, in another order
  t.equal(arena.bytes.buffer, buffer, 'the next bucket writes into the same buffer');
  t.same([read(arena, 0), read(arena, 999), arena.records], [[2, 1, 0, 1], [2, 1 + 0.999, 0.999, 1], 1000]);
});
