/**
 * Durations as the configuration writes them ("10s", "5m", "1h", "24h", "7d"),
 * in milliseconds. One syntax everywhere (windows, steps, retention).
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+)(ms|s|m|h|d)$/;

/** Milliseconds of a duration string, or an Error message saying what is wrong. */
export function parseDuration(text: string): number | string {
  const m = DURATION.exec(text);
  if (!m) return `${JSON.stringify(text)} is not a duration (a whole number and one of ms, s, m, h, d: "30s", "5m", "1h")`;
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  if (ms <= 0 || !Number.isSafeInteger(ms)) return `${JSON.stringify(text)} must be positive`;
  return ms;
}

/** The shortest exact spelling: 60000 → "1m", 90000 → "90s". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
