/**
 * http-tracer [command] [options]
 *
 *   run              the agent: capture, analytics, REST API and /metrics on one port
 *   demo             run plus a bundled demo service and load, with a live line per exchange
 *   check            can capture work here? (kernel, BTF, tracefs, privileges, probes)
 *   trace            one line per HTTP exchange on this host, as it happens
 *   record FILE      write captured batches to FILE
 *   replay FILE      print the exchanges of a capture file (no root needed);
 *                    with --summary, the RED view per service and route instead
 *
 * Exit codes: 0 ok, 1 capture cannot work, 2 bad command line or option.
 */
import { parseArgs } from 'node:util';
import { TracerError } from '../errors';
import { checkCommand } from './check';
import { captureOptionSpec, parseInteger } from './options';
import { runCommand } from './run';
import { summaryCommand } from './summary';
import { recordCommand, replayCommand, traceCommand, type Io } from './trace';

const USAGE = `usage: http-tracer [run|demo|check|trace|record FILE|replay FILE] [options]

options (trace, record, replay, demo):
  --port N[,N]          only these service ports (server: local port, client: peer port)
  --not-port N[,N]      all but these ports
  --pid N[,N]           only these processes;  --not-pid N[,N]  all but these
  --comm NAME           only these process names
  --status CLASS        only 1xx, 2xx, 3xx, 4xx, 5xx or aborted (repeatable)
  --json                JSON lines instead of text
  --head-bytes N        request head bytes kept per exchange (0-512, multiple of 8; default 256)
  --ring-buffer-bytes N kernel ring buffer (power of two; default 8388608)
  --exchange-timeout-ms N  outstanding exchanges older than this are reported aborted (default 120000, 0 = never)
  --duration-seconds N  stop by itself after N seconds

run, demo: the agent on one port (default 127.0.0.1:8080; dashboard_address 0.0.0.0 for
every interface): REST under /api, Prometheus /metrics
  --config FILE         the seed's configuration file (output.analytics: dashboard_port,
                        dashboard_address, metrics_endpoint, worker_threads, ...);
                        HTTP_TRACER_* variables override it; unknown keys are refused
  --data-dir DIR        where the agent keeps its database (alert rules, incidents);
                        over HTTP_TRACER_DATA_DIR and output.analytics.data_dir
                        (default /var/lib/ebpf-http-tracer)

replay --summary: the file through the analytics engine, then requests, rate, errors
and p50/p95/p99 per service and route:
  --window DURATION     the window ending at the last exchange (default: the smallest
                        of 1m, 5m, 15m, 1h, 24h that holds the whole recording)
  --top N               the N busiest routes (default 20)
  --config FILE         the analytics section of a configuration file (seed format);
                        HTTP_TRACER_ANALYTICS_* variables override it
`;

function stopSignal(durationSeconds: number | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    // The reader went away ("trace | head"): stop as on Ctrl-C.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? resolve() : reject(err)));
    if (durationSeconds !== undefined) setTimeout(resolve, durationSeconds * 1000).unref();
  });
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...captureOptionSpec,
      'duration-seconds': { type: 'string' },
      summary: { type: 'boolean' },
      window: { type: 'string' },
      top: { type: 'string' },
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command = 'run', file, ...extra] = positionals;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const duration = values['duration-seconds'] === undefined ? undefined : parseInteger('duration-seconds', values['duration-seconds'], 1, 86_400 * 365);
  const io: Io = { stdout: process.stdout, stderr: process.stderr, stopRequested: stopSignal(duration) };
  const needsFile = command === 'record' || command === 'replay';
  const summaryOnly = (['summary', 'window', 'top'] as const).find((o) => values[o] !== undefined);
  if (summaryOnly && !(command === 'replay' && values.summary)) throw new TracerError('HT_ERR_USAGE', `--${summaryOnly} goes with replay --summary`);
  if (values.config !== undefined && !(command === 'run' || command === 'demo' || (command === 'replay' && values.summary))) {
    throw new TracerError('HT_ERR_USAGE', '--config goes with run, demo and replay --summary');
  }
  if (values['data-dir'] !== undefined && !(command === 'run' || command === 'demo')) throw new TracerError('HT_ERR_USAGE', '--data-dir goes with run and demo');
  const filterOption = (['port', 'not-port', 'pid', 'not-pid', 'comm', 'status'] as const).find((o) => values[o] !== undefined);
  if (values.summary && filterOption) throw new TracerError('HT_ERR_USAGE', `--${filterOption} does not apply to --summary, which summarises every exchange of the file`);
  if ((needsFile && !file) || (!needsFile && file !== undefined) || extra.length > 0) {
    throw new TracerError('HT_ERR_USAGE', needsFile ? `${command} needs a FILE` : `unexpected argument ${JSON.stringify(file ?? extra[0])}`);
  }
  switch (command) {
    case 'check':
      return checkCommand(values.json ?? false, io);
    case 'trace':
      return traceCommand(values, io);
    case 'record':
      return recordCommand(file, values, io);
    case 'replay':
      return values.summary ? summaryCommand(file, values, io) : replayCommand(file, values, io);
    case 'run':
    case 'demo':
      return runCommand(values, io, command === 'demo');
    default:
      throw new TracerError('HT_ERR_USAGE', `unknown command ${JSON.stringify(command)}`);
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof TracerError) return err.code === 'HT_ERR_USAGE' || err.code === 'HT_ERR_OPTION' ? 2 : 1;
  if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return 2;
  return 1;
}
