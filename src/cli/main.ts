/**
 * http-tracer COMMAND [options]: the command line (commands.ts lists the
 * commands, their options and their help).
 *
 *   http-tracer                  the help on stderr, exit 2 (a bare call never starts an agent)
 *   http-tracer --help | help    the help on stdout, exit 0
 *   http-tracer help COMMAND     a command's help;  also  http-tracer COMMAND --help
 *   http-tracer --version        the package's version
 *
 * Exit codes: 0 ok, 1 a runtime failure (capture cannot work, the port is in
 * use, a bad capture file), 2 usage (an unknown command or option, a bad
 * value or configuration). Diagnostics go to the logger (stderr); stdout
 * carries a command's output only.
 */
import { parseArgs } from 'node:util';
import { closestKey } from '../config/config-keys';
import { TracerError } from '../errors';
import { createLogger } from '../log/logger';
import { logSettings } from '../log/settings';
import { checkCommand } from './check';
import { commandHelp, commandNamed, COMMANDS, GLOBAL_OPTIONS, usageText, type CommandSpec } from './commands';
import { captureOptionSpec, parseInteger } from './options';
import { runCommand } from './run';
import { summaryCommand } from './summary';
import { recordCommand, replayCommand, traceCommand, type Io } from './trace';
import { packageVersion } from './version';

const OPTION_SPEC = {
  ...captureOptionSpec,
  'duration-seconds': { type: 'string' },
  summary: { type: 'boolean' },
  window: { type: 'string' },
  top: { type: 'string' },
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const;

function stopSignal(durationSeconds: number | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    // The reader went away ("trace | head"): stop as on Ctrl-C.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? resolve() : reject(err)));
    if (durationSeconds !== undefined) setTimeout(resolve, durationSeconds * 1000).unref();
  });
}

const usage = (message: string): never => {
  throw new TracerError('HT_ERR_USAGE', message);
};

/** "unknown command "tarce"; did you mean "trace"?" */
function unknownCommand(name: string, prefix = ''): never {
  const near = closestKey(name, COMMANDS.map((c) => c.name));
  return usage(`${prefix}unknown command ${JSON.stringify(name)}${near ? `; did you mean "${near}"?` : ''}`);
}

/** An option the command does not take: named with the command. */
function refuseForeignOptions(spec: CommandSpec, values: Record<string, unknown>): void {
  const allowed = new Set<string>([...GLOBAL_OPTIONS, ...spec.options]);
  const foreign = Object.keys(values).find((o) => values[o] !== undefined && !allowed.has(o));
  if (foreign) usage(`--${foreign} does not apply to ${spec.name} (see "http-tracer help ${spec.name}")`);
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTION_SPEC });
  const [command, file, ...extra] = positionals;
  if (values.version) {
    if (command !== undefined || values.help) usage('--version goes alone');
    process.stdout.write(`http-tracer ${packageVersion()}\n`);
    return 0;
  }
  if (command === undefined) {
    // A bare call asks for nothing: the help, but as a failure (a typo in a script must not start an agent).
    (values.help ? process.stdout : process.stderr).write(usageText());
    return values.help ? 0 : 2;
  }
  const spec = commandNamed(command) ?? unknownCommand(command);
  if (spec.name === 'help') {
    if (extra.length > 0) usage(`unexpected argument ${JSON.stringify(extra[0])}`);
    const about = file === undefined ? undefined : (commandNamed(file) ?? unknownCommand(file, 'help: '));
    process.stdout.write(about ? commandHelp(about) : usageText());
    return 0;
  }
  if (values.help) {
    process.stdout.write(commandHelp(spec));
    return 0;
  }
  const needsFile = command === 'record' || command === 'replay';
  const summaryOnly = (['summary', 'window', 'top'] as const).find((o) => values[o] !== undefined);
  if (summaryOnly && !(command === 'replay' && values.summary)) usage(`--${summaryOnly} goes with replay --summary`);
  if (values.config !== undefined && !(command === 'run' || command === 'demo' || (command === 'replay' && values.summary))) {
    usage('--config goes with run, demo and replay --summary');
  }
  if (values['data-dir'] !== undefined && !(command === 'run' || command === 'demo')) usage('--data-dir goes with run and demo');
  const filterOption = (['port', 'not-port', 'pid', 'not-pid', 'comm', 'status'] as const).find((o) => values[o] !== undefined);
  if (values.summary && filterOption) usage(`--${filterOption} does not apply to --summary, which summarises every exchange of the file`);
  refuseForeignOptions(spec, values);
  if ((needsFile && !file) || (!needsFile && file !== undefined) || extra.length > 0) {
    usage(needsFile ? `${command} needs a FILE` : `unexpected argument ${JSON.stringify(file ?? extra[0])}`);
  }
  const log = createLogger(logSettings(values, process.env, process.stderr));
  const duration = values['duration-seconds'] === undefined ? undefined : parseInteger('duration-seconds', values['duration-seconds'], 1, 86_400 * 365);
  const io: Io = { stdout: process.stdout, stderr: process.stderr, log, stopRequested: stopSignal(duration) };
  switch (spec.name) {
    case 'check':
      return checkCommand(values.json ?? false, io);
    case 'trace':
      return traceCommand(values, io);
    case 'record':
      return recordCommand(file, values, io);
    case 'replay':
      return values.summary ? summaryCommand(file, values, io) : replayCommand(file, values, io);
    default:
      return runCommand(values, io, command === 'demo');
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof TracerError) return err.code === 'HT_ERR_USAGE' || err.code === 'HT_ERR_OPTION' ? 2 : 1;
  if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return 2;
  return 1;
}

/**
 * The whole program: main, and what a failure prints. A failure is one plain
 * line on stderr, "http-tracer: <message>" (the last line, whatever the log
 * format), and for a usage error the usage line after it.
 */
export async function cli(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (err) {
    const code = exitCodeFor(err);
    const [command] = argv.filter((a) => !a.startsWith('-'));
    const spec = command === undefined ? undefined : commandNamed(command);
    const hint = spec && spec.name !== 'help' ? `usage: http-tracer ${spec.synopsis} [options]; "http-tracer help ${spec.name}" for more\n` : 'usage: http-tracer COMMAND [options]; "http-tracer help" for the commands\n';
    process.stderr.write(`http-tracer: ${(err as Error).message}\n${code === 2 && (err as { code?: string }).code !== 'HT_ERR_OPTION' ? hint : ''}`);
    return code;
  }
}
