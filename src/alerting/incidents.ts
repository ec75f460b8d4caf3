/**
 * The incident lifecycle (seed 001): a firing alert opens an incident, or
 * joins the unresolved one of the same rule and group; people acknowledge,
 * resolve and silence it; the alert resolving resolves it. Every change is
 * one entry in its history (who, when, an optional note) and one save.
 *
 *   alert fires --> open (or refired into the unresolved one)
 *   open --acknowledge--> acknowledged
 *   open | acknowledged --resolve (a person, or "alert" when the instance resolves)--> resolved
 *   silence until T (≤ 30 days; replaces an earlier one) / unsilence: while silenced,
 *   the alert's firing notifications are held (resolves are always sent)
 *   anything on a resolved incident: HT_ERR_CONFLICT
 *
 * The repository holds the incidents; this module keeps the unresolved ones
 * in memory as well (evaluation asks about them at every firing and resend),
 * which is exact as long as every change goes through it: it is the only
 * writer. Returned incidents are copies: the caller owns them.
 */
import crypto from 'node:crypto';
import { TracerError } from '../errors';
import { AlertInputError } from './rule-input';
import type { Incident, IncidentEntry, IncidentRepository, IncidentStatus, Severity } from './types';

export const MAX_SILENCE_MS = 30 * 86_400_000;
export const MAX_NOTE_CHARS = 500;
export const MAX_BY_CHARS = 100;
/** Who acts when the agent does. */
export const BY_ALERT = 'alert';

export interface FiringAlert {
  ruleId: string;
  ruleName: string;
  key: string;
  labels: Record<string, string>;
  severity: Severity;
  value: number;
  message: string;
}

const copy = (i: Incident): Incident => structuredClone(i);
const unresolvedKey = (ruleId: string, key: string): string => `${ruleId}\u0000${key}`;

export function newIncidentId(): string {
  return `inc_${crypto.randomBytes(8).toString('hex')}`;
}

function actor(by: string | undefined, note: string | undefined): { by: string; note?: string } {
  const who = by ?? 'api';
  if (typeof who !== 'string' || who.length === 0 || who.length > MAX_BY_CHARS) throw new AlertInputError('by', `${JSON.stringify(who)} must be a name of 1 to ${MAX_BY_CHARS} characters`);
  if (note === undefined) return { by: who };
  if (typeof note !== 'string' || note.length > MAX_NOTE_CHARS) throw new AlertInputError('note', `must be a string of at most ${MAX_NOTE_CHARS} characters`);
  return { by: who, note };
}

export class Incidents {
  private readonly repo: IncidentRepository;
  /** Unresolved incidents by id, and their ids by rule and group. */
  private readonly open = new Map<string, Incident>();
  private readonly byGroup = new Map<string, string>();

  constructor(repo: IncidentRepository) {
    this.repo = repo;
    for (const incident of repo.unresolved()) this.remember(incident);
  }

  /** The incident of a firing alert: the unresolved one of its rule and group ("refired"), else a new one. */
  fire(alert: FiringAlert, at: number): Incident {
    const id = this.byGroup.get(unresolvedKey(alert.ruleId, alert.key));
    const known = id === undefined ? undefined : this.open.get(id);
    if (known) {
      const next = { ...copy(known), lastValue: alert.value, message: alert.message, history: [...known.history, entry('refired', at, BY_ALERT, undefined)] };
      return this.save(next);
    }
    const incident: Incident = {
      id: newIncidentId(),
      ruleId: alert.ruleId,
      ruleName: alert.ruleName,
      key: alert.key,
      labels: { ...alert.labels },
      severity: alert.severity,
      status: 'open',
      openedAt: at,
      valueAtOpen: alert.value,
      lastValue: alert.value,
      message: alert.message,
      history: [{ at, action: 'opened', by: BY_ALERT }],
    };
    return this.save(incident);
  }

  /** The alert stopped firing: its incident, if still unresolved, is resolved by "alert". */
  resolveByAlert(id: string, at: number, value: number, note?: string): Incident | undefined {
    const known = this.open.get(id);
    if (!known) return undefined;
    const next = copy(known);
    if (!Number.isNaN(value)) next.lastValue = value;
    return this.save(this.transition(next, 'resolved', at, BY_ALERT, note));
  }

  acknowledge(id: string, at: number, by?: string, note?: string): Incident {
    const who = actor(by, note);
    const incident = this.get(id);
    if (incident.status === 'resolved') throw conflict(incident, 'cannot be acknowledged');
    if (incident.status === 'acknowledged') throw new TracerError('HT_ERR_CONFLICT', `incident ${id}: already acknowledged by ${incident.acknowledgedBy} at ${new Date(incident.acknowledgedAt ?? 0).toISOString()}`);
    return this.save(this.transition(incident, 'acknowledged', at, who.by, who.note));
  }

  resolve(id: string, at: number, by?: string, note?: string): Incident {
    const who = actor(by, note);
    const incident = this.get(id);
    if (incident.status === 'resolved') throw conflict(incident, 'cannot be resolved again');
    return this.save(this.transition(incident, 'resolved', at, who.by, who.note));
  }

  /** Holds the incident's firing notifications until `until` (Unix ms, after `at`, within 30 days); replaces an earlier silence. `until` ≤ `at` unsilences. */
  silence(id: string, until: number, at: number, by?: string, note?: string): Incident {
    if (typeof until !== 'number' || !Number.isFinite(until)) throw new AlertInputError('until', `${JSON.stringify(until)} must be a time`);
    if (until <= at) return this.unsilence(id, at, by, note);
    if (until - at > MAX_SILENCE_MS) throw new AlertInputError('until', `${new Date(until).toISOString()} is more than 30 days away: a silence lasts at most 30 days`);
    const who = actor(by, note);
    const incident = this.get(id);
    if (incident.status === 'resolved') throw conflict(incident, 'cannot be silenced');
    incident.silencedUntil = until;
    incident.history.push({ at, action: 'silenced', by: who.by, note: who.note ?? `until ${new Date(until).toISOString()}` });
    return this.save(incident);
  }

  unsilence(id: string, at: number, by?: string, note?: string): Incident {
    const who = actor(by, note);
    const incident = this.get(id);
    if (incident.status === 'resolved') throw conflict(incident, 'cannot be unsilenced');
    if (incident.silencedUntil === undefined || incident.silencedUntil <= at) throw new TracerError('HT_ERR_CONFLICT', `incident ${id}: is not silenced`);
    delete incident.silencedUntil;
    incident.history.push(entry('unsilenced', at, who.by, who.note));
    return this.save(incident);
  }

  /** Whether the incident's notifications are held at `at` (an unknown or resolved incident is not silenced). */
  isSilenced(id: string | undefined, at: number): boolean {
    const silencedUntil = id === undefined ? undefined : this.open.get(id)?.silencedUntil;
    return silencedUntil !== undefined && silencedUntil > at;
  }

  /** HT_ERR_NOT_FOUND when there is no such incident. */
  get(id: string): Incident {
    const known = this.open.get(id);
    if (known) return copy(known);
    const stored = this.repo.get(id);
    if (!stored) throw new TracerError('HT_ERR_NOT_FOUND', `incident ${id}: not found`);
    return stored;
  }

  list(filter: { status?: IncidentStatus; ruleId?: string; limit: number }): Incident[] {
    return this.repo.list(filter);
  }

  /** The unresolved incidents: id, rule and group. */
  unresolvedGroups(): { id: string; ruleId: string; key: string }[] {
    return [...this.open.values()].map((i) => ({ id: i.id, ruleId: i.ruleId, key: i.key }));
  }

  /** The unresolved incident of a rule's group, if any (a copy). */
  unresolvedOf(ruleId: string, key: string): Incident | undefined {
    const id = this.byGroup.get(unresolvedKey(ruleId, key));
    const known = id === undefined ? undefined : this.open.get(id);
    return known && copy(known);
  }

  private transition(incident: Incident, to: 'acknowledged' | 'resolved', at: number, by: string, note: string | undefined): Incident {
    incident.status = to;
    if (to === 'acknowledged') {
      incident.acknowledgedAt = at;
      incident.acknowledgedBy = by;
    } else {
      incident.resolvedAt = at;
      incident.resolvedBy = by;
    }
    incident.history.push(entry(to, at, by, note));
    return incident;
  }

  /** One save per change; the memory follows the repository (a failed save changes nothing). */
  private save(incident: Incident): Incident {
    this.repo.save(incident);
    if (incident.status === 'resolved') this.forget(incident);
    else this.remember(incident);
    return copy(incident);
  }

  private remember(incident: Incident): void {
    this.open.set(incident.id, copy(incident));
    this.byGroup.set(unresolvedKey(incident.ruleId, incident.key), incident.id);
  }

  private forget(incident: Incident): void {
    this.open.delete(incident.id);
    const k = unresolvedKey(incident.ruleId, incident.key);
    if (this.byGroup.get(k) === incident.id) this.byGroup.delete(k);
  }
}

function entry(action: IncidentEntry['action'], at: number, by: string, note: string | undefined): IncidentEntry {
  return note === undefined ? { at, action, by } : { at, action, by, note };
}

function conflict(incident: Incident, what: string): TracerError {
  return new TracerError('HT_ERR_CONFLICT', `incident ${incident.id}: resolved ${incident.resolvedBy === BY_ALERT ? 'when its alert resolved' : `by ${incident.resolvedBy}`} at ${new Date(incident.resolvedAt ?? 0).toISOString()}; ${what}`);
}
