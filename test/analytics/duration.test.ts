import t from 'tap';
import { formatDuration, parseDuration } from '../../src/analytics/duration';

t.test('one duration syntax everywhere', async (t) => {
  t.same(['30s', '5m', '1h', '1d', '90m'].map(parseDuration), [30_000, 300_000, 3_600_000, 86_400_000, 5_400_000]);
  for (const bad of ['', '0m', '5', 'm', '5 m', '1.5h', '-1m', '5ms', '12345678s', 5, null]) t.equal(parseDuration(bad), undefined, JSON.stringify(bad));
  t.same([60_000, 90_000, 86_400_000, 1500].map(formatDuration), ['1m', '90s', '1d', '1500ms']);
});
