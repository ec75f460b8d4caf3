/**
 * Error processor: the seed's http_errors_total, the failed exchanges by the
 * one rule of src/analytics/red.ts (5xx; 4xx on the client side; reset or
 * aborted, whatever the status). The same identities carry error_type on the
 * duration histogram, from which every RED number is read, so the two agree.
 */
import { familiesOf, httpLabels, type ProcessorPlugin } from '../processor';

export const errorProcessor: ProcessorPlugin = {
  name: 'error',
  families: familiesOf('error'),
  create(ctx) {
    const errors = ctx.identitySeries('http_errors_total', (id) =>
      id.errorType ? httpLabels(id, id.service, id.side, id.serverPort, id.route, id.statusCode, id.errorType) : undefined,
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
