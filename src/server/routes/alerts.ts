/**
 * Alert rules, their live state and the incidents they open (seed 000's
 * "Alert Management", seed 002's /api/alerts, seed 001's incidents):
 *
 *   GET    /api/alerts[?enabled_only=true]    rules, active alerts, recent history
 *   POST   /api/alerts                        create a rule (201)
 *   GET    /api/alerts/{id}                   one rule, its instances (and anomaly bands)
 *   PUT    /api/alerts/{id}                   replace a rule
 *   DELETE /api/alerts/{id}                   delete a rule (204)
 *   POST   /api/alerts/{id}/enable|disable
 *   GET    /api/incidents[?status=&rule_id=&limit=]
 *   GET    /api/incidents/{id}
 *   POST   /api/incidents/{id}/acknowledge|resolve   {by?, note?}
 *   POST   /api/incidents/{id}/silence               {until | duration, by?, note?}
 *
 * Writes are guarded by api-auth.ts (token, loopback, origin). Rule bodies
 * are validated by the alerting code so that every refusal names the field
 * as the user wrote it; refusals carry codes from src/errors.ts: 400
 * HT_ERR_BAD_REQUEST, 404 HT_ERR_NOT_FOUND, 409 HT_ERR_CONFLICT or
 * HT_ERR_ALERTING_DISABLED.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Alerting, RuleView } from '../../alerting/alerting';
import { ruleToApi } from '../../alerting/rule-input';
import { CONDITION_SYMBOL } from '../../alerting/template';
import type { AlertInstance, Incident, IncidentStatus } from '../../alerting/types';
import { parseDuration } from '../../analytics/duration';
import { TracerError, type ErrorCode } from '../../errors';
import { badRequest, sendError } from '../http-errors';
import { ERROR_RESPONSES, INTEGER, iso, NUMBER, NUMBER_OR_NULL, object, STRING, STRING_OR_NULL, STRINGS } from './schemas';

export interface AlertRoutesOptions {
  /** Undefined when alerting is off (enable_alerting: false): reads answer empty, writes 409. */
  alerting: Alerting | undefined;
}


function instanceToApi(view: RuleView, i: AlertInstance): object {
  const { rule } = view;
  return {
    rule_id: rule.id,
    name: rule.name,
    severity: rule.severity,
    state: i.state,
    labels: i.labels,
    value: i.value,
    threshold: rule.threshold,
    // As the rule shows it (seed 000's symbols).
    condition: CONDITION_SYMBOL[rule.condition],
    active_since: iso(i.activeSince),
    fired_at: iso(i.firedAt),
    resolved_at: iso(i.resolvedAt),
    value_at_firing: i.valueAtFiring ?? null,
    message: i.message,
    incident_id: i.incidentId ?? null,
    baseline: i.baseline ?? null,
  };
}

function ruleViewToApi(view: RuleView): object {
  return {
    ...ruleToApi(view.rule, view.activity),
    state: view.state,
    instances: view.instances.map((i) => instanceToApi(view, i)),
    ...(view.groups ? { groups: view.groups.map((g) => ({ labels: g.labels, value: g.value, baseline: g.baseline ?? null })) } : {}),
  };
}

function incidentToApi(i: Incident, now: number): object {
  return {
    id: i.id,
    rule_id: i.ruleId,
    rule_name: i.ruleName,
    labels: i.labels,
    severity: i.severity,
    status: i.status,
    opened_at: iso(i.openedAt),
    acknowledged_at: iso(i.acknowledgedAt),
    acknowledged_by: i.acknowledgedBy ?? null,
    resolved_at: iso(i.resolvedAt),
    resolved_by: i.resolvedBy ?? null,
    silenced_until: iso(i.silencedUntil),
    silenced: i.silencedUntil !== undefined && i.silencedUntil > now,
    value_at_open: i.valueAtOpen,
    last_value: i.lastValue,
    message: i.message,
    history: i.history.map((h) => ({ at: iso(h.at), action: h.action, by: h.by, note: h.note ?? null })),
  };
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = { HT_ERR_BAD_REQUEST: 400, HT_ERR_NOT_FOUND: 404, HT_ERR_CONFLICT: 409, HT_ERR_ALERTING_DISABLED: 409 };
const SHORT: Record<number, string> = { 400: 'bad request', 404: 'not found', 409: 'conflict' };

/** The refusal an alerting error stands for; anything else is the server's own failure (rethrown: 500). */
function refuse(reply: FastifyReply, e: unknown): FastifyReply {
  const status = e instanceof TracerError ? STATUS_OF[e.code] : undefined;
  if (status === undefined) throw e;
  const err = e as TracerError & { field?: string };
  if (status === 400) return badRequest(reply, err.field ?? 'body', err.message);
  return sendError(reply, status, { code: err.code, error: SHORT[status], message: err.message });
}

// Response schemas: every property each answer carries (schemas.ts: fast-json-stringify drops the rest).
const LABELS = { type: 'object', additionalProperties: STRING } as const;
const BASELINE = object({ mean: NUMBER, deviation: NUMBER, lower: NUMBER, upper: NUMBER, samples: INTEGER }, { nullable: true });
const INSTANCE = object({
  rule_id: STRING,
  name: STRING,
  severity: STRING,
  state: STRING,
  labels: LABELS,
  value: NUMBER_OR_NULL,
  threshold: NUMBER,
  condition: STRING,
  active_since: STRING_OR_NULL,
  fired_at: STRING_OR_NULL,
  resolved_at: STRING_OR_NULL,
  value_at_firing: NUMBER_OR_NULL,
  message: STRING,
  incident_id: STRING_OR_NULL,
  baseline: BASELINE,
});
const RULE_FIELDS = {
  id: STRING,
  name: STRING,
  metric_name: STRING,
  alert_type: STRING,
  threshold: NUMBER,
  condition: STRING,
  enabled: { type: 'boolean' },
  created_at: STRING,
  last_triggered: STRING_OR_NULL,
  notification_channels: STRINGS,
  metric: STRING,
  condition_name: STRING,
  severity: STRING,
  description: STRING,
  duration_seconds: INTEGER,
  window: STRING,
  match: LABELS,
  group_by: STRINGS,
  labels: LABELS,
  annotations: LABELS,
  source: STRING,
  trigger_count: INTEGER,
  updated_at: STRING,
  state: STRING,
  instances: { type: 'array', items: INSTANCE },
};
const RULE = {
  ...object(RULE_FIELDS),
  properties: {
    ...RULE_FIELDS,
    // Anomaly rules only.
    sensitivity: NUMBER,
    groups: { type: 'array', items: object({ labels: LABELS, value: NUMBER_OR_NULL, baseline: BASELINE }) },
  },
};
const NOTICE = object({
  rule_id: STRING,
  name: STRING,
  metric: STRING,
  severity: STRING,
  state: STRING,
  labels: LABELS,
  annotations: LABELS,
  value: NUMBER_OR_NULL,
  threshold: NUMBER,
  condition: STRING,
  starts_at: STRING,
  message: STRING,
  generator_url: STRING,
});
const NOTICE_WITH_OPTIONALS = { ...NOTICE, properties: { ...NOTICE.properties, ends_at: STRING, incident_id: STRING } };
const ALERTS = object({ enabled: { type: 'boolean' }, alerts: { type: 'array', items: RULE }, active: { type: 'array', items: INSTANCE }, history: { type: 'array', items: NOTICE_WITH_OPTIONALS } });
const INCIDENT = object({
  id: STRING,
  rule_id: STRING,
  rule_name: STRING,
  labels: LABELS,
  severity: STRING,
  status: STRING,
  opened_at: STRING,
  acknowledged_at: STRING_OR_NULL,
  acknowledged_by: STRING_OR_NULL,
  resolved_at: STRING_OR_NULL,
  resolved_by: STRING_OR_NULL,
  silenced_until: STRING_OR_NULL,
  silenced: { type: 'boolean' },
  value_at_open: NUMBER_OR_NULL,
  last_value: NUMBER_OR_NULL,
  message: STRING,
  history: { type: 'array', items: object({ at: STRING, action: STRING, by: STRING, note: STRING_OR_NULL }) },
});
const INCIDENTS = object({ incidents: { type: 'array', items: INCIDENT } });
const answers = (ok: object, status = 200) => ({ [status]: ok, ...ERROR_RESPONSES });
const NO_CONTENT = { 204: { type: 'null' }, ...ERROR_RESPONSES };

const ID = { type: 'string', minLength: 1, maxLength: 80 };
const ID_PARAMS = { type: 'object', properties: { id: ID }, required: ['id'] };
const NO_QUERY = { type: 'object', additionalProperties: false, properties: {} };
/** Who acts and why, for the incident's history. */
const ACTOR = { by: { type: 'string', minLength: 1, maxLength: 100 }, note: { type: 'string', maxLength: 500 } };
const ACTION_BODY = { anyOf: [{ type: 'object', additionalProperties: false, properties: ACTOR }, { type: 'null' }] };
const SILENCE_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: { ...ACTOR, until: { type: 'string', maxLength: 40 }, duration: { type: 'string', maxLength: 20 } },
};
const MAX_SILENCE_MS = 30 * 86_400_000;
const UNRESOLVED: readonly IncidentStatus[] = ['open', 'acknowledged'];

interface Actor {
  by?: string;
  note?: string;
}

export const alertRoutes: FastifyPluginAsync<AlertRoutesOptions> = async (app, { alerting }) => {
  const now = (): number => Date.now();
  /** The alerting component, or a 409 when it is off. */
  const on = (): Alerting => {
    if (!alerting) throw new TracerError('HT_ERR_ALERTING_DISABLED', 'alerting is off (enable_alerting: false / HTTP_TRACER_ANALYTICS_ENABLE_ALERTING=false): no rules, no incidents');
    return alerting;
  };
  /** Runs an alerting call, turning its refusals into 4xx answers. */
  const answer = async <T>(reply: FastifyReply, call: () => T, status = 200): Promise<T | FastifyReply> => {
    try {
      const result = call();
      return status === 200 ? result : reply.code(status).send(result);
    } catch (e) {
      return refuse(reply, e);
    }
  };

  app.get<{ Querystring: { enabled_only: boolean; history_limit: number } }>(
    '/api/alerts',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { enabled_only: { type: 'boolean', default: false }, history_limit: { type: 'integer', minimum: 0, maximum: 500, default: 50 } },
        },
        response: answers(ALERTS),
      },
    },
    async (req) => {
      if (!alerting) return { enabled: false, alerts: [], active: [], history: [] };
      const views = alerting.rules(req.query.enabled_only);
      return {
        enabled: true,
        alerts: views.map(ruleViewToApi),
        active: views.flatMap((v) => v.instances.filter((i) => i.state !== 'resolved').map((i) => instanceToApi(v, i))),
        history: alerting.history(req.query.history_limit),
      };
    },
  );

  app.post('/api/alerts', { schema: { querystring: NO_QUERY, response: answers(RULE, 201) } }, async (req, reply) => answer(reply, () => ruleViewToApi(on().create(req.body)), 201));

  app.get<{ Params: { id: string } }>('/api/alerts/:id', { schema: { params: ID_PARAMS, querystring: NO_QUERY, response: answers(RULE) } }, async (req, reply) => answer(reply, () => ruleViewToApi(on().rule(req.params.id))));

  app.put<{ Params: { id: string } }>('/api/alerts/:id', { schema: { params: ID_PARAMS, querystring: NO_QUERY, response: answers(RULE) } }, async (req, reply) =>
    answer(reply, () => ruleViewToApi(on().replace(req.params.id, req.body))),
  );

  app.delete<{ Params: { id: string } }>('/api/alerts/:id', { schema: { params: ID_PARAMS, querystring: NO_QUERY, response: NO_CONTENT } }, async (req, reply) => {
    try {
      on().remove(req.params.id);
    } catch (e) {
      return refuse(reply, e);
    }
    return reply.code(204).send();
  });

  for (const [action, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post<{ Params: { id: string } }>(`/api/alerts/:id/${action}`, { schema: { params: ID_PARAMS, querystring: NO_QUERY, response: answers(RULE) } }, async (req, reply) =>
      answer(reply, () => ruleViewToApi(on().setEnabled(req.params.id, enabled))),
    );
  }

  app.get<{ Querystring: { status?: IncidentStatus | 'unresolved'; rule_id?: string; limit: number } }>(
    '/api/incidents',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: ['open', 'acknowledged', 'resolved', 'unresolved'] },
            rule_id: ID,
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: answers(INCIDENTS),
      },
    },
    async (req) => {
      if (!alerting) return { incidents: [] };
      const { status, rule_id: ruleId, limit } = req.query;
      const t = now();
      const incidents =
        status === 'unresolved'
          ? UNRESOLVED.flatMap((s) => alerting.incidents({ status: s, ruleId, limit })).sort((a, b) => b.openedAt - a.openedAt).slice(0, limit)
          : alerting.incidents({ status, ruleId, limit });
      return { incidents: incidents.map((i) => incidentToApi(i, t)) };
    },
  );

  app.get<{ Params: { id: string } }>('/api/incidents/:id', { schema: { params: ID_PARAMS, querystring: NO_QUERY, response: answers(INCIDENT) } }, async (req, reply) =>
    answer(reply, () => incidentToApi(on().incident(req.params.id), now())),
  );

  for (const action of ['acknowledge', 'resolve'] as const) {
    app.post<{ Params: { id: string }; Body: Actor | null }>(`/api/incidents/:id/${action}`, { schema: { params: ID_PARAMS, querystring: NO_QUERY, body: ACTION_BODY, response: answers(INCIDENT) } }, async (req, reply) =>
      answer(reply, () => {
        const { by = 'api', note } = req.body ?? {};
        return incidentToApi(on()[action](req.params.id, by, note), now());
      }),
    );
  }

  app.post<{ Params: { id: string }; Body: Actor & { until?: string; duration?: string } }>(
    '/api/incidents/:id/silence',
    { schema: { params: ID_PARAMS, querystring: NO_QUERY, body: SILENCE_BODY, response: answers(INCIDENT) } },
    async (req, reply) => {
      const { until, duration, by = 'api', note } = req.body;
      const t = now();
      let untilMs: number;
      if ((until === undefined) === (duration === undefined)) return badRequest(reply, 'until', 'until: give either until (an ISO 8601 time) or duration ("30m", "2h"), not both');
      if (duration !== undefined) {
        const ms = parseDuration(duration);
        if (ms === undefined) return badRequest(reply, 'duration', `duration: ${JSON.stringify(duration)} is not a duration ("30m", "2h", "1d")`);
        untilMs = t + ms;
      } else {
        untilMs = Date.parse(until!);
        if (!Number.isFinite(untilMs) || !/^\d{4}-\d\d-\d\dT/.test(until!)) return badRequest(reply, 'until', `until: ${JSON.stringify(until)} is not an ISO 8601 time ("2026-12-02T18:00:00Z")`);
        if (untilMs <= t) return badRequest(reply, 'until', `until: ${until} is not in the future`);
      }
      if (untilMs - t > MAX_SILENCE_MS) return badRequest(reply, duration !== undefined ? 'duration' : 'until', `${duration !== undefined ? 'duration' : 'until'}: a silence lasts at most 30 days`);
      return answer(reply, () => incidentToApi(on().silence(req.params.id, untilMs, by, note), t));
    },
  );
};
