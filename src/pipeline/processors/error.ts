/**
 * Error processor: failed exchanges classified as 4xx, 5xx, reset (the
 * connection failed mid-exchange) or aborted (closed, timed out, or the
 * process exited). The error rate per service is this over http_requests_total.
 */
import { familiesOf, type ProcessorPlugin } from '../processor';

export const errorProcessor: ProcessorPlugin = {
  name: 'error',
  families: familiesOf('error'),
  create(ctx) {
    const errors = ctx.identitySeries('http_errors_total', (id) =>
      id.errorType ? [id.service, id.side, id.serverPort, id.route, id.statusCode, id.errorType] : undefined,
    );
    return {
      process(groups, count) {
        for (let i = 0; i < count; i++) {
          const g = groups[i];
          if (g.identity.errorType) errors.add(g, g.count);
        }
      },
    };
  },
};
