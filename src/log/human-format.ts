/**
 * pino's JSON records as one line for a person at a terminal:
 *
 *   {"level":"warn","time":"2026-12-02T16:52:07.123Z","msg":"forwarding to mimir failing: HTTP 503","target":"mimir"}
 *   16:52:07.123 WARN  forwarding to mimir failing: HTTP 503
 *
 * Local clock time to the ms (like trace's exchange lines), the level in
 * capitals, the message (every message of the agent says it all: the other
 * fields are for machines, in the JSON lines), and an error's message when
 * the record carries one. Control characters are escaped, so nothing a
 * message holds can move the cursor or colour the terminal.
 */

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function clockTime(iso: unknown): string {
  const d = typeof iso === 'string' || typeof iso === 'number' ? new Date(iso) : new Date(NaN);
  if (Number.isNaN(d.getTime())) return '--:--:--.---';
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** A message as plain text, its control characters escaped (\n, \u001b). */
function plain(text: string): string {
  return text.replace(CONTROL, (c) => JSON.stringify(c).slice(1, -1));
}

/** pino's error serialisation ({type, message, stack}): the message is enough on a terminal. */
function errorText(err: unknown): string {
  const e = err as { message?: unknown } | null;
  return plain(typeof e?.message === 'string' ? e.message : JSON.stringify(err));
}

/** One record (a parsed JSON line) as one line, without the newline. */
export function humanLine(record: Record<string, unknown>): string {
  const { level, time, msg, err } = record;
  const parts = [clockTime(time), plain(String(level ?? '')).toUpperCase().padEnd(5)];
  if (msg !== undefined) parts.push(plain(String(msg)));
  if (err !== undefined) parts.push(`(${errorText(err)})`);
  return parts.join(' ');
}

/** A pino destination: each JSON line in, one human line out to `out`. */
export function humanDestination(out: { write(text: string): unknown }): { write(line: string): void } {
  return {
    write(line: string): void {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(plain(line.trimEnd()) + '\n');
        return;
      }
      out.write(humanLine(record) + '\n');
    },
  };
}
