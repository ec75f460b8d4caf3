/** Performance processor: the duration histogram (percentiles per window) and exchanges per process. */
import type { ExchangeEvent } from '../exchange-event';
import { familiesOf, type ProcessorPlugin } from '../processor';

const processLabels = (e: ExchangeEvent): string[] => [String(e.tgid), e.comm];

export const performanceProcessor: ProcessorPlugin = {
  name: 'performance',
  families: familiesOf('performance'),
  create(ctx) {
    const durations = ctx.identitySeries('http_request_duration_seconds', (id) => [id.service, id.side, id.serverPort, id.method, id.route, id.statusCode]);
    const processes = ctx.keyedSeries('process_events_total');
    return {
      process(events, count) {
        for (let i = 0; i < count; i++) {
          const e = events[i];
          durations.observe(e, e.durationSeconds);
          processes.add(e, e.tgid, processLabels, 1);
        }
      },
    };
  },
};
