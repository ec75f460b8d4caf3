/** HTTP processor: requests by method and route, responses by status, response sizes. */
import { familiesOf, httpLabels, type ProcessorPlugin } from '../processor';

export const httpProcessor: ProcessorPlugin = {
  name: 'http',
  families: familiesOf('http'),
  create(ctx) {
    const requests = ctx.identitySeries('http_requests_total', (id) => httpLabels(id, id.service, id.side, id.serverPort, id.method, id.route));
    const responses = ctx.identitySeries('http_responses_total', (id) => httpLabels(id, id.service, id.side, id.serverPort, id.statusCode, id.statusClass));
    const sizes = ctx.identitySeries('http_response_size_bytes', (id) => httpLabels(id, id.service, id.side, id.serverPort, id.route));
    return {
      process(groups, count) {
        for (let i = 0; i < count; i++) {
          const g = groups[i];
          requests.add(g, g.count);
          responses.add(g, g.count);
          sizes.observe(g, g.responseSizes, g.count);
        }
      },
    };
  },
};
