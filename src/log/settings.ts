/**
 * Which level and which format the agent's diagnostics use:
 *
 *   level   --log-level  >  HTTP_TRACER_LOG_LEVEL  >  info
 *   format  --log-format >  HTTP_TRACER_LOG_FORMAT >  text when stderr is a terminal, else json
 *
 * A bad value names where it came from: an option is a usage error (exit 2),
 * a variable an option error (exit 2 too).
 */
import { fail, usage } from '../config/validate';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export interface LogSettings {
  level: LogLevel;
  format: LogFormat;
}

export interface LogOptions {
  'log-level'?: string;
  'log-format'?: string;
}

/** The human format on a terminal, JSON lines for everything else (a file, a pipe, a container runtime). */
export function defaultFormat(stderr: { isTTY?: boolean }): LogFormat {
  return stderr.isTTY === true ? 'text' : 'json';
}

function pick<T extends string>(allowed: readonly T[], option: string, variable: string, fromCli: string | undefined, fromEnv: string | undefined): T | undefined {
  if (fromCli !== undefined) {
    if (!(allowed as readonly string[]).includes(fromCli)) usage(`--${option} ${JSON.stringify(fromCli)}: expected one of ${allowed.join(', ')}`);
    return fromCli as T;
  }
  if (fromEnv !== undefined && fromEnv !== '') {
    const value = fromEnv.trim().toLowerCase();
    if (!(allowed as readonly string[]).includes(value)) fail(variable, fromEnv, `must be one of ${allowed.join(', ')}`);
    return value as T;
  }
  return undefined;
}

export function logSettings(cli: LogOptions, env: NodeJS.ProcessEnv, stderr: { isTTY?: boolean }): LogSettings {
  return {
    level: pick(LOG_LEVELS, 'log-level', 'HTTP_TRACER_LOG_LEVEL', cli['log-level'], env.HTTP_TRACER_LOG_LEVEL) ?? DEFAULT_LOG_LEVEL,
    format: pick(LOG_FORMATS, 'log-format', 'HTTP_TRACER_LOG_FORMAT', cli['log-format'], env.HTTP_TRACER_LOG_FORMAT) ?? defaultFormat(stderr),
  };
}
