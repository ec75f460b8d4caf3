/**
 * How `trace` and `replay` show an exchange: one line for people, or one JSON
 * object per line. Captured strings are escaped (src/server/safe-text.ts) so
 * that bytes from the network can never drive the terminal or a JSON
 * consumer's (no raw control characters).
 */
import { RouteTemplater } from '../analytics/route';
import { formatEndpoint } from '../capture/address';
import type { Exchange } from '../capture/decoder';
import { controlEscapingReplacer, escapeForTerminal } from '../server/safe-text';

const routes = new RouteTemplater();

export interface ExchangeFilter {
  comms?: string[];
  /** '1xx'..'5xx', or 'aborted'. */
  statusClasses?: string[];
}

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'aborted'] as const;

export function statusClass(e: Pick<Exchange, 'aborted' | 'status'>): string {
  if (e.aborted) return 'aborted';
  return e.status >= 100 && e.status < 600 ? `${Math.floor(e.status / 100)}xx` : 'unknown';
}

export function matches(e: Exchange, filter: ExchangeFilter): boolean {
  if (filter.comms?.length && !filter.comms.includes(e.comm)) return false;
  if (filter.statusClasses?.length && !filter.statusClasses.includes(statusClass(e))) return false;
  return true;
}

export function formatDuration(ns: number): string {
  if (ns < 1e6) return `${(ns / 1e3).toFixed(0)}µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)}ms`;
  return `${(ns / 1e9).toFixed(2)}s`;
}

// "HH:MM:SS." of the last second formatted: exchanges arrive in bursts of the same second.
let cachedSecond = NaN;
let cachedPrefix = '';

function clockTime(unixMs: number): string {
  const second = Math.floor(unixMs / 1000);
  if (second !== cachedSecond) {
    const d = new Date(second * 1000);
    const p = (n: number): string => String(n).padStart(2, '0');
    cachedPrefix = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.`;
    cachedSecond = second;
  }
  return cachedPrefix + String(Math.floor(unixMs - second * 1000)).padStart(3, '0');
}

function abortReason(e: Exchange): string {
  const reason = e.flags.find((f) => f === 'closed' || f === 'reset' || f === 'processExit' || f === 'timeout');
  return `ABORTED(${reason ?? 'unknown'})`;
}

/** unixMs: the exchange's start as Unix time in ms. */
export function formatLine(e: Exchange, unixMs: number): string {
  const status = e.aborted ? abortReason(e) + (e.status ? ` ${e.status}` : '') : String(e.status);
  return [
    clockTime(unixMs),
    `${e.tgid}/${escapeForTerminal(e.comm)}`,
    e.direction,
    formatEndpoint(e.peerAddress, e.peerPort),
    escapeForTerminal(e.method || '-'),
    escapeForTerminal(e.target || '-'),
    status,
    formatDuration(e.durationNs),
    `${e.requestBytes}B/${e.responseBytes}B`,
  ].join(' ');
}

/** One JSON object: bigints as decimal strings, times in Unix ms, the templated route, control characters escaped. */
export function formatJson(e: Exchange, unixMs: number): string {
  return JSON.stringify(
    {
      time: new Date(unixMs).toISOString(),
      ...e,
      route: routes.route(e.target),
      cgroupId: e.cgroupId.toString(),
      startMonotimeNs: e.startMonotimeNs.toString(),
      endMonotimeNs: e.endMonotimeNs.toString(),
    },
    controlEscapingReplacer,
  );
}
