/**
 * Histogram buckets sealed into bytes answer exactly as the Distributions
 * they were: every tier against a reference that merges each bucket's cells
 * in arrival order (late cells into sealed buckets included), and a
 * forgotten series' number, reused, brings none of its old buckets along.
 */
import t from 'tap';
import type { DeltaCell } from '../../src/analytics/cells';
import { Distribution } from '../../src/analytics/distribution';
import { FAMILIES, seriesKey } from '../../src/analytics/families';
import { MetricStore, type HistogramSummary } from '../../src/analytics/store';
import { NO_HTTP_IDENTITY } from '../helpers/identity-labels';
import { random } from '../helpers/streams';

const T0 = 1_800_000_000_000;
const METRIC = 'http_request_duration_seconds';

function cell(route: string, bucketMs: number, values: number[]): DeltaCell {
  const d = new Distribution();
  values.forEach((v) => d.record(v));
  const labels = ['api:80', 'server', '80', 'GET', route, '200', '', ...NO_HTTP_IDENTITY];
  return { family: METRIC, labels, key: seriesKey(labels), bucketMs, value: values.length, dist: d.toData(), bounds: [] };
}

const answers = (h: { count: number; sum: number; min: number; max: number; p50: number; p90: number; p95: number; p99: number }): number[] => [h.count, h.sum, h.min, h.max, h.p50, h.p90, h.p95, h.p99];
const reference = (d: Distribution): number[] => [d.count, d.sum, d.min, d.max, ...[0.5, 0.9, 0.95, 0.99].map((q) => d.quantile(q))];

t.test('property: every tier answers as Distributions merged in arrival order, late cells included', async (t) => {
  const rnd = random(21);
  let now = T0;
  const s = new MetricStore({ families: FAMILIES, retentionMs: 86_400_000, limits: { perService: 100, global: 1000 }, now: () => now });
  const routes = ['/a', '/b', '/c'];
  const resolutions = [10_000, 60_000, 3_600_000];
  // Per tier, per route, per bucket start: the cells' values merged as they arrived.
  const buckets = resolutions.map(() => new Map<string, Distribution>());
  const ticks = 3 * 360;
  for (let tick = 0; tick < ticks; tick++) {
    now = T0 + tick * 10_000 + 5_000;
    const cells: DeltaCell[] = [];
    for (const route of routes) {
      for (let n = Math.floor(rnd() * 3); n > 0; n--) {
        const late = rnd() < 0.3 ? Math.floor(rnd() * 7) : 0; // up to a minute late: sealed buckets take values again
        const bucketMs = T0 + Math.max(tick - late, 0) * 10_000;
        const values = Array.from({ length: 1 + Math.floor(rnd() * (rnd() < 0.1 ? 120 : 12)) }, () => (rnd() < 0.5 ? Math.round(1e6 * Math.pow(1e3, rnd())) / 1e9 : 1e-3 * Math.pow(1e3, rnd())));
        cells.push(cell(route, bucketMs, values));
      }
    }
    s.ingest(cells);
    for (const c of cells) {
      resolutions.forEach((res, i) => {
        const id = `${c.labels[4]} ${c.bucketMs - (c.bucketMs % res)}`;
        let d = buckets[i].get(id);
        if (!d) buckets[i].set(id, (d = new Distribution()));
        d.merge(c.dist!);
      });
    }
    if (tick % 6 === 0) s.expire();
  }
  // One point per bucket, from each tier: 10 s over the last 14 min, 1 min from 50 to 20 min back, 1 h over the 3 h.
  const ranges = [
    { tier: 0, from: now - 14 * 60_000, to: now, step: 10_000 },
    { tier: 1, from: now - 50 * 60_000, to: now - 20 * 60_000, step: 60_000 },
    { tier: 2, from: T0, to: now, step: 3_600_000 },
  ];
  for (const { tier, from, to, step } of ranges) {
    let points = 0;
    let same = 0;
    for (const row of s.range({ metric: METRIC, by: ['route'] }, from, to, step, now)) {
      for (const p of row.points) {
        points++;
        const want = buckets[tier].get(`${row.labels.route} ${p.t}`)!;
        const got = answers(p.summary as HistogramSummary);
        if (got.every((v, i) => Object.is(v, reference(want)[i]))) same++;
      }
    }
    const first = from - (from % step);
    const held = [...buckets[tier].keys()].filter((id) => Number(id.split(' ')[1]) >= first && Number(id.split(' ')[1]) <= to).length;
    t.ok(points === held && held >= 9, `tier ${tier}: a point for each of the ${held} buckets with values`);
    t.equal(same, points, `tier ${tier}: every point as the reference, to the last bit`);
  }
});

t.test("a forgotten series' number, given to a new series, brings none of its buckets", async (t) => {
  let now = T0 + 5_000;
  const s = new MetricStore({ families: FAMILIES, retentionMs: 86_400_000, limits: { perService: 100, global: 1, idleMs: 60_000 }, now: () => now });
  s.ingest([cell('/old', T0, [0.5, 0.25])]);
  now = T0 + 15_000;
  s.ingest([cell('/old', T0 + 10_000, [0.75])]); // seals the first bucket
  now = T0 + 100_000;
  s.expire();
  s.ingest([cell('/x', T0 + 90_000, [0.1])]);
  now = T0 + 200_000;
  s.expire(); // two retired, one kept: /old, the longest idle, is forgotten
  s.ingest([cell('/new', T0 + 190_000, [0.3])]);
  const seen = s.window({ metric: METRIC, by: ['route'] }, 900_000).map((r) => [r.labels.route, ...answers(r.summary as HistogramSummary)]);
  t.same(seen.sort(), [
    ['/new', 1, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
    ['/x', 1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
  ]);
  t.same(s.stats().cells, 2 * 3, 'two buckets in each of the three tiers');
});

t.test('a bucket that took only an empty cell still answers once sealed, with a count of 0', async (t) => {
  let now = T0 + 5_000;
  const s = new MetricStore({ families: FAMILIES, retentionMs: 86_400_000, limits: { perService: 100, global: 1000 }, now: () => now });
  s.ingest([cell('/empty', T0, [])]);
  now = T0 + 15_000;
  s.ingest([cell('/other', T0 + 10_000, [1])]); // seals the first bucket
  const rows = s.window({ metric: METRIC, by: ['route'] }, 60_000).map((r) => [r.labels.route, ...answers(r.summary as HistogramSummary)]);
  t.same(rows.sort(), [
    ['/empty', 0, 0, Infinity, -Infinity, NaN, NaN, NaN, NaN],
    ['/other', 1, 1, 1, 1, 1, 1, 1, 1],
  ]);
});
