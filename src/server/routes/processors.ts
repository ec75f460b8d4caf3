/** GET /api/processors: what each processor handled and the time it took. */
import type { FastifyPluginAsync } from 'fastify';
import type { HealthSource } from '../sources';
import { ERROR_RESPONSES, INTEGER, NO_QUERY, NUMBER, NUMBER_OR_NULL, object, STRING } from './schemas';

export interface ProcessorsRouteOptions {
  health: HealthSource;
}

const PROCESSORS = object({
  processors: {
    type: 'array',
    items: object({ name: STRING, events_in: INTEGER, writes: INTEGER, folded: INTEGER, time_seconds: NUMBER, ns_per_event: NUMBER_OR_NULL }),
  },
});

export const processorsRoutes: FastifyPluginAsync<ProcessorsRouteOptions> = async (app, { health }) => {
  app.get('/api/processors', { schema: { querystring: NO_QUERY, response: { 200: PROCESSORS, ...ERROR_RESPONSES } } }, async () => ({
    processors: Object.entries(health.engineStats().processors).map(([name, p]) => ({
      name,
      events_in: p.eventsIn,
      writes: p.writes,
      folded: p.folded,
      time_seconds: p.timeNs / 1e9,
      ns_per_event: p.eventsIn > 0 ? p.timeNs / p.eventsIn : null,
    })),
  }));
};
