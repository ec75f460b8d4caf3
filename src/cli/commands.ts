/**
 * The commands, what each one takes, and its help (`http-tracer help
 * COMMAND`, `http-tracer COMMAND --help`). main.ts refuses an option a
 * command does not take, naming the command.
 */

/** Options every command takes. */
export const GLOBAL_OPTIONS = ['help', 'log-level', 'log-format'] as const;

const CAPTURE = ['port', 'not-port', 'pid', 'not-pid', 'comm', 'status', 'json', 'head-bytes', 'ring-buffer-bytes', 'exchange-timeout-ms', 'no-tls', 'duration-seconds'] as const;

export interface CommandSpec {
  name: string;
  /** "record FILE" */
  synopsis: string;
  /** One line for the command list. */
  summary: string;
  /** The options it takes besides the global ones. */
  options: readonly string[];
  /** The help's body: what it does and its options. */
  help: string;
}

const CAPTURE_OPTIONS_HELP = `capture options:
  --port N[,N]          only these service ports (server: local port, client: peer port)
  --not-port N[,N]      all but these ports
  --pid N[,N]           only these processes;  --not-pid N[,N]  all but these
  --comm NAME           only these process names
  --status CLASS        only 1xx, 2xx, 3xx, 4xx, 5xx or aborted (repeatable)
  --json                JSON lines instead of text
  --head-bytes N        request head bytes kept per exchange (0-512, multiple of 8; default 256)
  --ring-buffer-bytes N kernel ring buffer (power of two; default 8388608)
  --exchange-timeout-ms N  outstanding exchanges older than this are reported aborted (default 120000, 0 = never)
  --no-tls              no uprobes on the TLS libraries: HTTPS is not captured
                        (over HTTP_TRACER_CAPTURE_TLS=false; default: captured)
  --duration-seconds N  stop by itself after N seconds
`;

const AGENT_OPTIONS_HELP = `agent options:
  --config FILE         the seed's configuration file (output.analytics: dashboard_port,
                        dashboard_address, metrics_endpoint, worker_threads, ...);
                        HTTP_TRACER_* variables override it; unknown keys are refused
  --data-dir DIR        where the agent keeps its database (alert rules, incidents) and
                        forwarding queues; over HTTP_TRACER_DATA_DIR and output.analytics.data_dir
                        (default /var/lib/ebpf-http-tracer)
`;

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'run',
    synopsis: 'run',
    summary: 'the agent: capture, analytics, REST API and /metrics on one port',
    options: [...CAPTURE, 'config', 'data-dir'],
    help: `The agent, until SIGINT or SIGTERM: capture, the analytics engine, and one HTTP port
(default 127.0.0.1:8080; dashboard_address 0.0.0.0 for every interface) with the
dashboard at /, REST under /api, Prometheus /metrics, and /healthz and /readyz for
Kubernetes. The configuration is checked, and the port bound for a moment, before any
eBPF program loads: a bad key exits 2, a port in use exits 1, both at once.

${AGENT_OPTIONS_HELP}
${CAPTURE_OPTIONS_HELP}`,
  },
  {
    name: 'demo',
    synopsis: 'demo',
    summary: 'run plus a bundled demo service and load, with a live line per exchange',
    options: [...CAPTURE, 'config', 'data-dir'],
    help: `run, plus a small shop API on 127.0.0.1:8090 and a load of about 20 requests/s
(both their own processes), and a line per exchange on stdout.

${AGENT_OPTIONS_HELP}
${CAPTURE_OPTIONS_HELP}`,
  },
  {
    name: 'check',
    synopsis: 'check',
    summary: 'can capture work here? (kernel, BTF, tracefs, privileges, probes)',
    options: ['json'],
    help: `Kernel, BTF, tracefs and privileges, then a real load and attach of every probe; a
table on stdout and the fix in words for whatever fails. Exit 1 when capture cannot work.

  --json                the checks and probes as one JSON document
`,
  },
  {
    name: 'trace',
    synopsis: 'trace',
    summary: 'one line per HTTP exchange on this host, as it happens',
    options: CAPTURE,
    help: `One line per HTTP exchange on stdout (JSON lines with --json) until Ctrl-C; the
diagnostics (probes attached, the loss summary) go to stderr.

${CAPTURE_OPTIONS_HELP}`,
  },
  {
    name: 'record',
    synopsis: 'record FILE',
    summary: 'write captured batches to FILE',
    options: CAPTURE,
    help: `The captured batches into FILE until Ctrl-C (replay reads it back without root).

${CAPTURE_OPTIONS_HELP}`,
  },
  {
    name: 'replay',
    synopsis: 'replay FILE',
    summary: 'print the exchanges of a capture file (no root needed); --summary: the RED view',
    options: [...CAPTURE, 'summary', 'window', 'top', 'config'],
    help: `The exchanges of a capture file, as trace prints them (--comm, --status, --json apply).

replay --summary: the file through the analytics engine, then requests, rate, errors
and p50/p95/p99 per service and route:
  --window DURATION     the window ending at the last exchange (default: the smallest
                        of 1m, 5m, 15m, 1h, 24h that holds the whole recording)
  --top N               the N busiest routes (default 20)
  --config FILE         the analytics section of a configuration file (seed format);
                        HTTP_TRACER_ANALYTICS_* variables override it

${CAPTURE_OPTIONS_HELP}`,
  },
  {
    name: 'help',
    synopsis: 'help [COMMAND]',
    summary: 'this help, or a command\'s',
    options: [],
    help: 'This help, or with COMMAND the help of that command.\n',
  },
];

export function commandNamed(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export const EXIT_CODES_HELP = `exit codes:
  0  done (Ctrl-C or SIGTERM included)
  1  a runtime failure: capture cannot work here, the port is in use, a capture file is bad
  2  usage: an unknown command or option, a bad option value or configuration
`;

const GLOBAL_HELP = `global options:
  -h, --help            help (of the command, after one)
  --version             the version
  --log-level LEVEL     fatal, error, warn, info (default), debug, trace or silent
                        (HTTP_TRACER_LOG_LEVEL)
  --log-format FORMAT   json (default when stderr is not a terminal) or text (the default
                        on a terminal) (HTTP_TRACER_LOG_FORMAT)
`;

/** The general help: commands, global options, exit codes. */
export function usageText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.synopsis.length));
  const list = COMMANDS.map((c) => `  ${c.synopsis.padEnd(width)}  ${c.summary}`).join('\n');
  return `usage: http-tracer COMMAND [options]

commands:
${list}

${GLOBAL_HELP}
Diagnostics are log lines on stderr; stdout carries only a command's output.
"http-tracer help COMMAND" shows a command's options.

${EXIT_CODES_HELP}`;
}

export function commandHelp(c: CommandSpec): string {
  return `usage: http-tracer ${c.synopsis} [options]

${c.help}
${GLOBAL_HELP}
${EXIT_CODES_HELP}`;
}
