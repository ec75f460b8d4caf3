/**
 * The agent's one logger (pino, Fastify's own): diagnostics on stderr as JSON
 * lines with a level and an ISO time, or as human lines on a terminal
 * (human-format.ts). stdout is left to the commands' output (trace's
 * exchanges, check's table), which never goes through here.
 *
 *   {"level":"info","time":"2026-12-02T16:52:07.123Z","msg":"capturing: 14/14 probes attached in 1.2 s; Ctrl-C to stop","attached":14,"total":14}
 */
import pino, { type Logger } from 'pino';
import { humanDestination } from './human-format';
import type { LogSettings } from './settings';

export type Log = Logger;

export interface LogDestination {
  write(text: string): unknown;
}

export function createLogger(settings: LogSettings, destination: LogDestination = process.stderr): Log {
  return pino(
    {
      level: settings.level,
      // No pid nor hostname on every line: the node's log collector adds where a line came from.
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    settings.format === 'text' ? humanDestination(destination) : destination,
  );
}

/** Library callers and tests that give no logger: nothing is written. */
export function silentLog(): Log {
  return pino({ level: 'silent' });
}
