/**
 * Durations as the configuration, the CLI, the REST API and the WebSocket
 * protocol write them ("30s", "5m", "1h", "1d"): one syntax, one parser.
 */
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The syntax, for JSON Schema: a positive whole number of at most 7 digits and a unit. */
export const DURATION_PATTERN = '^[1-9][0-9]{0,6}(s|m|h|d)$';
const DURATION = new RegExp(DURATION_PATTERN);

/** Milliseconds of a duration, or undefined when `text` is not one. */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string' || !DURATION.test(text)) return undefined;
  return Number(text.slice(0, -1)) * UNIT_MS[text[text.length - 1]];
}

/** The shortest exact spelling: 60000 → "1m", 90000 → "90s". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
