/**
 * Captured strings (paths, hosts, process names: bytes from the network or
 * from any local process, decoded one char per byte) made safe to leave the
 * agent. One rule for every surface — REST JSON, /metrics label values,
 * WebSocket messages, `trace --json` — so a consumer's terminal or log
 * viewer never receives a raw control character:
 *
 *   C0 (U+0000–U+001F), DEL (U+007F), C1 (U+0080–U+009F)  →  \xNN  (visible, two hex digits)
 *   backslash                                              →  \\    (so the escape is reversible)
 *
 * Everything else (printable ASCII, Latin-1 letters, any other Unicode) is
 * kept. JSON and the Prometheus text format escape their own syntax (quotes,
 * their backslashes) on top of this. The text `trace` also escapes non-ASCII
 * (escapeForTerminal), as before.
 */
const CONTROL = /[\\\x00-\x1f\x7f-\x9f]/;
const CONTROL_ALL = /[\\\x00-\x1f\x7f-\x9f]/g;
const NON_ASCII = /[\\\x00-\x1f\x7f-\uffff]/;
const NON_ASCII_ALL = /[\\\x00-\x1f\x7f-\uffff]/g;

const escapeChar = (c: string): string => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** Control characters as \xNN, backslash doubled; the same string back when there is nothing to escape (no allocation). */
export function escapeControl(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROL_ALL, escapeChar) : s;
}

/** For a terminal line: escapeControl, and every non-ASCII character as \xNN too. */
export function escapeForTerminal(s: string): string {
  return NON_ASCII.test(s) ? s.replace(NON_ASCII_ALL, escapeChar) : s;
}

/** A JSON.stringify replacer that escapes every string value with escapeControl (keys are the agent's own names). */
export function controlEscapingReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? escapeControl(value) : value;
}

/**
 * A JSON payload as JSON.stringify(payload, controlEscapingReplacer) would
 * read it, made into a new value before a schema serializer sees it: every
 * string escaped (escapeControl), toJSON() applied, numbers JSON cannot carry
 * (NaN, ±Infinity) as null, undefined and functions left out of objects and
 * null in arrays. Keys are the agent's own names and are kept as they are.
 */
export function escapedForJson(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
      return escapeControl(value);
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'object': {
      if (value === null) return null;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return escapedForJson((value as { toJSON: () => unknown }).toJSON());
      if (Array.isArray(value)) return value.map((v) => (v === undefined || typeof v === 'function' || typeof v === 'symbol' ? null : escapedForJson(v)));
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
        out[k] = escapedForJson(v);
      }
      return out;
    }
    default:
      return value;
  }
}
