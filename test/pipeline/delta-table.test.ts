/**
 * A shard's delta tables: nothing written is lost across publications and
 * bucket changes, and a published bucket gives its series' budget back as
 * soon as another bucket is written.
 */
import t from 'tap';
import type { DeltaCell } from '../../src/analytics/cells';
import type { SeriesBudgetLimits } from '../../src/analytics/series-budget';
import { BUILTIN_PROCESSORS } from '../../src/pipeline/processors';
import { Shard } from '../../src/pipeline/shard';
import { batchOf, encodeExchange } from '../helpers/records';

const B1 = 1_800_000_000_000;
const B2 = B1 + 10_000;

function shard(limits: SeriesBudgetLimits = { perService: 1000, global: 10_000 }): Shard {
  return new Shard({ clockOffsetMs: 0, resolutionMs: 10_000, routePatterns: [], redactPatterns: [], limits, enabledFamilies: ['http_requests_total'], plugins: BUILTIN_PROCESSORS });
}

const exchange = (bucketMs: number, comm = 'api') => {
  const endNs = BigInt(bucketMs + 5_000) * 1_000_000n;
  return encodeExchange({ comm, localPort: 80, startNs: endNs - 1_000_000n, endNs });
};
const cells = (out: DeltaCell[]) => out.map((c) => [c.bucketMs, c.labels[0], c.value]);

t.test('writes to the bucket in progress after a publication are published with it, even when another bucket follows', async (t) => {
  const s = shard();
  s.ingest(batchOf(exchange(B1)));
  t.same(cells(s.drain()), [[B1, 'api:80', 1]]);
  s.ingest(batchOf(exchange(B1), exchange(B1), exchange(B2)));
  t.same(cells(s.drain()), [[B1, 'api:80', 2], [B2, 'api:80', 1]]);
  s.ingest(batchOf(exchange(B2)));
  t.same(cells(s.drain()), [[B2, 'api:80', 1]]);
});

t.test("a published bucket's series give their budget back once another bucket is written", async (t) => {
  const s = shard({ perService: 1000, services: 1, global: 10_000 });
  s.ingest(batchOf(exchange(B1, 'a'), exchange(B1, 'b')));
  t.same(cells(s.drain()), [[B1, 'a:80', 1], [B1, '__overflow__', 1]], 'one service slot: the second service folds');
  s.ingest(batchOf(exchange(B2, 'b')));
  t.same(cells(s.drain()), [[B2, 'b:80', 1]], 'B1 was published: its service slot is free');
});
