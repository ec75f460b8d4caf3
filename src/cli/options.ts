/**
 * Command-line options shared by trace, record and replay, turned into
 * capture options and exchange filters. Every bad value names the option.
 */
import { flag, optionInteger, usage } from '../config/validate';
import type { CaptureOptions } from '../capture/capture';
import { STATUS_CLASSES, type ExchangeFilter } from './exchange-line';

export const captureOptionSpec = {
  port: { type: 'string', multiple: true },
  'not-port': { type: 'string', multiple: true },
  pid: { type: 'string', multiple: true },
  'not-pid': { type: 'string', multiple: true },
  comm: { type: 'string', multiple: true },
  status: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  'head-bytes': { type: 'string' },
  'ring-buffer-bytes': { type: 'string' },
  'exchange-timeout-ms': { type: 'string' },
  'no-tls': { type: 'boolean' },
} as const;

export interface ParsedCaptureValues {
  port?: string[];
  'not-port'?: string[];
  pid?: string[];
  'not-pid'?: string[];
  comm?: string[];
  status?: string[];
  json?: boolean;
  'head-bytes'?: string;
  'ring-buffer-bytes'?: string;
  'exchange-timeout-ms'?: string;
  'no-tls'?: boolean;
}

/** The variable that turns the TLS uprobes off ("false"); --no-tls overrides it. */
export const CAPTURE_TLS_VARIABLE = 'HTTP_TRACER_CAPTURE_TLS';

/** A whole number from an option's text (src/config/validate.ts); HT_ERR_USAGE naming the option. */
export const parseInteger = optionInteger;

function list(option: string, values: string[] | undefined, max: number): number[] | undefined {
  // "--port 80,443" and "--port 80 --port 443" both work.
  const items = values?.flatMap((v) => v.split(',')).filter((v) => v !== '');
  return items?.length ? items.map((v) => parseInteger(option, v, 1, max)) : undefined;
}

export function captureOptions(v: ParsedCaptureValues, env: NodeJS.ProcessEnv = process.env): CaptureOptions {
  const options: CaptureOptions = {
    ports: { allow: list('port', v.port, 65535), deny: list('not-port', v['not-port'], 65535) },
    pids: { allow: list('pid', v.pid, 0x7fffffff), deny: list('not-pid', v['not-pid'], 0x7fffffff) },
  };
  if (v['head-bytes'] !== undefined) options.headBytes = parseInteger('head-bytes', v['head-bytes'], 0, 512);
  if (v['ring-buffer-bytes'] !== undefined) options.ringBufferBytes = parseInteger('ring-buffer-bytes', v['ring-buffer-bytes'], 4096, 1 << 30);
  if (v['exchange-timeout-ms'] !== undefined) options.exchangeTimeoutMs = parseInteger('exchange-timeout-ms', v['exchange-timeout-ms'], 0, 86_400_000);
  const tlsText = env[CAPTURE_TLS_VARIABLE];
  if (v['no-tls']) options.tls = false;
  else if (tlsText !== undefined && tlsText !== '') options.tls = flag(CAPTURE_TLS_VARIABLE, tlsText);
  return options;
}

export function exchangeFilter(v: ParsedCaptureValues): ExchangeFilter {
  const statusClasses = v.status?.flatMap((s) => s.split(',')).map((s) => s.toLowerCase());
  for (const s of statusClasses ?? []) {
    if (!(STATUS_CLASSES as readonly string[]).includes(s)) usage(`--status ${JSON.stringify(s)}: expected one of ${STATUS_CLASSES.join(', ')}`);
  }
  return { comms: v.comm?.flatMap((c) => c.split(',')), statusClasses };
}
