/** The environment that makes an agent process forward to a test Prometheus every second. */
import type { Prometheus } from './prometheus';

export const forwardEnv = (prom: Prometheus, dataDir?: string): Record<string, string> => ({
  HTTP_TRACER_FORWARD_REMOTE_WRITE_URL: prom.writeUrl,
  HTTP_TRACER_FORWARD_INTERVAL_SECONDS: '1',
  HTTP_TRACER_FORWARD_EXTERNAL_LABELS: 'cluster=test',
  ...(dataDir ? { HTTP_TRACER_DATA_DIR: dataDir } : {}),
});
