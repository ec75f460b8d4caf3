/** Performance processor: the duration histogram (percentiles per window) and exchanges per process. */
import { familiesOf, httpLabels, type ProcessorPlugin } from '../processor';

export const performanceProcessor: ProcessorPlugin = {
  name: 'performance',
  families: familiesOf('performance'),
  create(ctx) {
    const durations = ctx.identitySeries('http_request_duration_seconds', (id) => [...httpLabels(id, id.service, id.side, id.serverPort, id.method, id.route, id.statusCode, id.errorType), id.scheme]);
    const processes = ctx.identitySeries('process_events_total', (id) => [id.processName, id.cgroupId]);
    return {
      process(groups, count) {
        for (let i = 0; i < count; i++) {
          const g = groups[i];
          durations.observe(g, g.durationsSeconds, g.count);
          processes.add(g, g.count);
        }
      },
    };
  },
};
