/**
 * Seed 000's WebSocket protocol, both ways.
 *
 *   client → agent   {type:"subscribe", query_id, window?, service?, namespace?, route?, method?, side?}
 *                    {type:"subscribe", query_id, stream:"exchanges"}
 *                    {type:"unsubscribe", query_id}
 *   agent → client   subscribed, unsubscribed, realtime_update {query_id, data},
 *                    new_event {query_id, data}, new_metric {data}, analytics_snapshot {data},
 *                    alert_triggered {alert}, alert_resolved {alert}, error {message[, query_id]}
 *
 * Parsing costs O(message size) and does no store work: a subscribe only
 * names a query (its normalized key shares one evaluation among every
 * subscriber asking the same thing). Outgoing messages wrap data already
 * serialized once, so a result sent to many costs one JSON.stringify.
 */
import { formatDuration, parseDuration } from '../../analytics/duration';
import { NAMESPACE_MAX_LENGTH, NAMESPACE_PATTERN, type MetricsQuery } from '../api-metrics';

export type Subscription = { kind: 'metrics'; query: MetricsQuery; windowMs: number; key: string } | { kind: 'exchanges' };

export type ClientCommand = { type: 'subscribe'; queryId: string; subscription: Subscription } | { type: 'unsubscribe'; queryId: string };

const NAMESPACE = new RegExp(NAMESPACE_PATTERN);

/** Routes per realtime_update, as before the scheduler (the REST API gives more). */
const UPDATE_LIMIT = 20;

/**
 * The command a client message carries, or what is wrong with it (the
 * error message sent back). `windowProblem` is the store's: why a window
 * cannot be served.
 */
export function parseClientMessage(text: string, isBinary: boolean, windowProblem: (windowMs: number) => string | undefined): ClientCommand | string {
  if (isBinary) return 'messages are JSON text';
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'a message is a JSON object with a "type"';
  const msg = m as Record<string, unknown>;
  if (msg.type !== 'subscribe' && msg.type !== 'unsubscribe') return `type: ${JSON.stringify(msg.type)} is not subscribe or unsubscribe`;
  const queryId = msg.query_id;
  if (typeof queryId !== 'string' || queryId.length === 0 || queryId.length > 64) return 'query_id: a string of 1 to 64 characters is needed';
  if (msg.type === 'unsubscribe') return { type: 'unsubscribe', queryId };
  const subscription = parseSubscription(msg, windowProblem);
  return typeof subscription === 'string' ? subscription : { type: 'subscribe', queryId, subscription };
}

function parseSubscription(msg: Record<string, unknown>, windowProblem: (windowMs: number) => string | undefined): Subscription | string {
  if (msg.stream !== undefined) return msg.stream === 'exchanges' ? { kind: 'exchanges' } : `stream: ${JSON.stringify(msg.stream)} is not "exchanges"`;
  const window = msg.window ?? '1m';
  const windowMs = parseDuration(window);
  if (windowMs === undefined) return `window: ${JSON.stringify(window)} is not a duration such as 1m or 1h`;
  const problem = windowProblem(windowMs);
  if (problem) return `window: ${window} ${problem}`;
  // The window spelled one way ("60s" and "1m" are one query).
  const query: MetricsQuery = { window: formatDuration(windowMs), limit: UPDATE_LIMIT };
  for (const key of ['service', 'route', 'method'] as const) {
    const v = msg[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length > 512) return `${key}: a string of at most 512 characters is needed`;
    query[key] = v;
  }
  if (msg.namespace !== undefined) {
    // As GET /api/metrics takes it (routes/metrics.ts).
    const v = msg.namespace;
    if (typeof v !== 'string' || v.length > NAMESPACE_MAX_LENGTH || !NAMESPACE.test(v)) {
      return `namespace: a Kubernetes namespace is needed (at most ${NAMESPACE_MAX_LENGTH} lower-case letters, digits and "-"; "" outside Kubernetes)`;
    }
    query.namespace = v;
  }
  if (msg.side !== undefined) {
    if (msg.side !== 'server' && msg.side !== 'client') return 'side: "server" or "client"';
    query.side = msg.side;
  }
  const key = `metrics ${JSON.stringify([windowMs, query.service, query.namespace, query.route, query.method, query.side])}`;
  return { kind: 'metrics', query, windowMs, key };
}

/** A message around data that is already JSON text. */
export function wrapData(type: string, queryId: string | undefined, json: string): string {
  return queryId === undefined ? `{"type":"${type}","data":${json}}` : `{"type":"${type}","query_id":${JSON.stringify(queryId)},"data":${json}}`;
}
