/**
 * GET /api/stats: the agent's counters — engine, capture, store, WebSocket
 * hub, HTTP connections — and the windows it offers.
 */
import type { FastifyPluginAsync } from 'fastify';
import { formatDuration } from '../../analytics/duration';
import type { ConnectionGuardStats } from '../connection-guard';
import type { LiveStats } from '../live/hub';
import type { HealthSource, StoreReader } from '../sources';
import { ERROR_RESPONSES, INTEGER, NO_QUERY, NUMBER, object, STRING, STRINGS } from './schemas';

export interface StatsRouteOptions {
  store: StoreReader;
  health: HealthSource;
  startedAtMs: number;
  /** The windows offered by default, in ms. */
  windowSizesMs: readonly number[];
  /** The live hub's counters, when there is one. */
  websocket?: () => LiveStats;
  connections: () => ConnectionGuardStats;
  maxConnections: number;
}

const COUNTS = { type: 'object', additionalProperties: INTEGER } as const;

const STATS = object({
  uptime_seconds: NUMBER,
  engine: object({
    status: STRING,
    worker_threads: INTEGER,
    events_in: INTEGER,
    events_processed: INTEGER,
    dropped_events: INTEGER,
    dropped_batches: INTEGER,
    buffer_size: INTEGER,
    buffer_capacity: INTEGER,
    truncated_bytes: INTEGER,
    unknown_records: INTEGER,
  }),
  capture: object({ records: INTEGER, batches: INTEGER, lost: object({ total: INTEGER, byReason: COUNTS }) }, { nullable: true }),
  // The store's own names (camelCase), as /api/stats has always shown them.
  store: object({
    series: INTEGER,
    cells: INTEGER,
    lateCells: INTEGER,
    budget: object({ series: INTEGER, services: INTEGER, folded: COUNTS, foldedTotal: INTEGER }),
    tiers: { type: 'array', items: object({ kind: STRING, resolution: STRING, span: STRING, buckets: INTEGER }) },
  }),
  // The live hub's counters: listed, and any it adds later go out as numbers.
  websocket: {
    type: ['object', 'null'],
    properties: {
      ...Object.fromEntries(
        ['connections', 'rejectedFull', 'rejectedOrigin', 'rejectedToken', 'closedSlow', 'closedFlooding', 'messagesRefused', 'eventsSent', 'eventsSkipped', 'newMetricsSkipped', 'queries', 'evaluations'].map((k) => [k, INTEGER]),
      ),
      evaluationMs: NUMBER,
      maxEvaluationMs: NUMBER,
    },
    additionalProperties: NUMBER,
  },
  http: object({ open: INTEGER, max_connections: INTEGER, evicted_idle: INTEGER, refused_busy: INTEGER }),
  windows: STRINGS,
});

export const statsRoutes: FastifyPluginAsync<StatsRouteOptions> = async (app, o) => {
  const { store, health } = o;
  app.get('/api/stats', { schema: { querystring: NO_QUERY, response: { 200: STATS, ...ERROR_RESPONSES } } }, async () => {
    const e = health.engineStats();
    const capture = health.captureStats?.();
    const http = o.connections();
    return {
      uptime_seconds: (Date.now() - o.startedAtMs) / 1000,
      engine: {
        status: e.status,
        worker_threads: e.workerThreads,
        events_in: e.eventsIn,
        events_processed: e.eventsProcessed,
        dropped_events: e.droppedEvents,
        dropped_batches: e.droppedBatches,
        buffer_size: e.bufferSize,
        buffer_capacity: e.bufferCapacity,
        truncated_bytes: e.truncatedBytes,
        unknown_records: e.unknownRecords,
      },
      capture: capture ? { records: capture.records, batches: capture.batches, lost: capture.lost } : null,
      store: store.stats(),
      websocket: o.websocket?.() ?? null,
      http: { open: http.open, max_connections: o.maxConnections, evicted_idle: http.evictedIdle, refused_busy: http.refusedBusy },
      windows: o.windowSizesMs.map(formatDuration),
    };
  });
};
