/**
 * Where the agent forwards its rollups: the configuration's `forwarding`
 * section and the HTTP_TRACER_FORWARD_* variables, checked once at start-up
 * (every refusal: HT_ERR_OPTION naming the key or variable; exit code 2).
 *
 *   "output": {"forwarding": {
 *     "interval_seconds": 10,
 *     "external_labels": {"cluster": "prod-eu"},
 *     "targets": [
 *       {"name": "mimir", "type": "remote_write", "url": "https://mimir.example/api/v1/push",
 *        "headers": {"X-Scope-OrgID": "team-a"}, "basic_auth": {"username": "agent", "password_file": "/secrets/pw"},
 *        "ca_file": "/etc/ssl/mimir-ca.pem", "queue_bytes": 268435456, "batch_samples": 2000, "timeout_seconds": 30},
 *       {"name": "collector", "type": "otlp", "url": "http://otel-collector:4318", "bearer_token_file": "/secrets/token"}]}}
 *
 *   HTTP_TRACER_FORWARD_REMOTE_WRITE_URL   → a remote_write target named "remote_write"
 *   HTTP_TRACER_FORWARD_OTLP_URL           → an otlp target named "otlp"
 *   HTTP_TRACER_FORWARD_INTERVAL_SECONDS   → interval_seconds
 *   HTTP_TRACER_FORWARD_EXTERNAL_LABELS    → external_labels, "cluster=prod-eu,region=eu-west-1"
 *
 * A variable's target replaces a configured one of the same name. Every
 * series carries `node` (the host's name) unless external_labels set it.
 */
import { closestKey } from '../config/config-keys';
import { readRegularFile } from '../config/api-token';
import { nodeName } from '../config/node-name';
import { httpTargetHeaders, httpTargetUrl } from '../config/http-target';
import { fail, integer, isObject, refuse, wholeNumber } from '../config/validate';

export type ForwardKind = 'remote_write' | 'otlp';

export interface ForwardTarget {
  name: string;
  kind: ForwardKind;
  url: string;
  /** Extra request headers, Authorization from basic_auth or a bearer token included. */
  headers: Record<string, string>;
  /** PEM of the CA that signs the target's certificate, when not a public one. */
  ca?: string;
  timeoutMs: number;
  /** The target's disk queue bound. */
  queueBytes: number;
  /** Samples per request at most (remote-write). */
  batchSamples: number;
}

export interface ForwardingConfig {
  intervalMs: number;
  externalLabels: Record<string, string>;
  targets: ForwardTarget[];
}

const KINDS: readonly ForwardKind[] = ['remote_write', 'otlp'];
const SECTION_KEYS = ['interval_seconds', 'external_labels', 'targets'];
const TARGET_KEYS = ['name', 'type', 'url', 'headers', 'basic_auth', 'bearer_token', 'bearer_token_file', 'ca_file', 'queue_bytes', 'batch_samples', 'timeout_seconds'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MAX_SECRET_BYTES = 64 * 1024;

export const FORWARD_DEFAULTS = { intervalSeconds: 10, queueBytes: 256 << 20, batchSamples: 2000, timeoutSeconds: 30 };
const LIMITS = { intervalSeconds: [1, 3600], queueBytes: [1 << 20, 64 * 2 ** 30], batchSamples: [100, 100_000], timeoutSeconds: [1, 300] } as const;

export const FORWARD_VARIABLES: readonly { variable: string; kind: ForwardKind }[] = [
  { variable: 'HTTP_TRACER_FORWARD_REMOTE_WRITE_URL', kind: 'remote_write' },
  { variable: 'HTTP_TRACER_FORWARD_OTLP_URL', kind: 'otlp' },
];

function knownKeys(o: Record<string, unknown>, known: readonly string[], at: string): void {
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue;
    const near = closestKey(key, known);
    refuse(`${at}.${key}`, `is not a known key${near ? `; did you mean "${near}"?` : ''} (known here: ${known.join(', ')})`);
  }
}

function secretFile(where: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') fail(where, v, 'must be a file path');
  const text = readRegularFile(where, v as string, MAX_SECRET_BYTES).trim();
  if (text === '') refuse(where, `${JSON.stringify(v)} is empty`);
  return text;
}

function secret(where: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') refuse(where, 'must be a non-empty string');
  return v as string;
}

function labels(where: string, v: unknown): Record<string, string> {
  if (!isObject(v)) fail(where, v, 'must be an object of label names and values');
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(v)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) fail(`${where}.${name}`, name, 'is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)');
    if (typeof value !== 'string' || value === '') fail(`${where}.${name}`, value, 'must be a non-empty string');
    out[name] = value as string;
  }
  return out;
}

function bounded(where: string, v: unknown, [min, max]: readonly [number, number], unit = ''): number {
  return integer(where, v, min, max, unit);
}

function target(item: unknown, at: string): ForwardTarget {
  if (!isObject(item)) fail(at, item, 'must be an object with "name", "type" and "url"');
  knownKeys(item, TARGET_KEYS, at);
  if (item.type === undefined) refuse(`${at}.type`, `is required: one of ${KINDS.join(', ')}`);
  if (!KINDS.includes(item.type as ForwardKind)) fail(`${at}.type`, item.type, `must be one of ${KINDS.join(', ')}`);
  if (item.name === undefined) refuse(`${at}.name`, 'is required');
  if (typeof item.name !== 'string' || !NAME.test(item.name)) fail(`${at}.name`, item.name, 'must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit');
  if (item.url === undefined) refuse(`${at}.url`, 'is required');
  const { url, headers: fromUrl } = httpTargetUrl(`${at}.url`, item.url);
  const headers = { ...fromUrl, ...httpTargetHeaders(`${at}.headers`, item.headers) };
  const auths = ['basic_auth', 'bearer_token', 'bearer_token_file'].filter((k) => item[k] !== undefined);
  if (auths.length > 1) refuse(at, `give one of ${auths.join(', ')}, not several`);
  if (item.basic_auth !== undefined) {
    const b = item.basic_auth;
    if (!isObject(b)) fail(`${at}.basic_auth`, b, 'must be {"username", "password" or "password_file"}');
    knownKeys(b, ['username', 'password', 'password_file'], `${at}.basic_auth`);
    if (typeof b.username !== 'string' || b.username === '' || b.username.includes(':')) fail(`${at}.basic_auth.username`, b.username, 'must be a non-empty string without ":"');
    if ((b.password === undefined) === (b.password_file === undefined)) refuse(`${at}.basic_auth`, 'give either password or password_file');
    const password = b.password !== undefined ? secret(`${at}.basic_auth.password`, b.password) : secretFile(`${at}.basic_auth.password_file`, b.password_file);
    headers.authorization = `Basic ${Buffer.from(`${b.username}:${password}`).toString('base64')}`;
  }
  if (item.bearer_token !== undefined) headers.authorization = `Bearer ${secret(`${at}.bearer_token`, item.bearer_token)}`;
  if (item.bearer_token_file !== undefined) headers.authorization = `Bearer ${secretFile(`${at}.bearer_token_file`, item.bearer_token_file)}`;
  let ca: string | undefined;
  if (item.ca_file !== undefined) {
    ca = readRegularFile(`${at}.ca_file`, item.ca_file as string, 1 << 20);
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) refuse(`${at}.ca_file`, `${JSON.stringify(item.ca_file)} holds no PEM certificate`);
  }
  return {
    name: item.name as string,
    kind: item.type as ForwardKind,
    url,
    headers,
    ca,
    timeoutMs: (item.timeout_seconds === undefined ? FORWARD_DEFAULTS.timeoutSeconds : bounded(`${at}.timeout_seconds`, item.timeout_seconds, LIMITS.timeoutSeconds, ' seconds')) * 1000,
    queueBytes: item.queue_bytes === undefined ? FORWARD_DEFAULTS.queueBytes : bounded(`${at}.queue_bytes`, item.queue_bytes, LIMITS.queueBytes, ' bytes'),
    batchSamples: item.batch_samples === undefined ? FORWARD_DEFAULTS.batchSamples : bounded(`${at}.batch_samples`, item.batch_samples, LIMITS.batchSamples),
  };
}

/**
 * raw: output.forwarding as written (undefined: none); where: how messages
 * name it ("config FILE: output.forwarding"). No target: forwarding is off.
 */
export function forwardingConfig(raw: unknown, where: string, env: NodeJS.ProcessEnv): ForwardingConfig {
  let intervalSeconds = FORWARD_DEFAULTS.intervalSeconds;
  let externalLabels: Record<string, string> = {};
  const targets: ForwardTarget[] = [];
  if (raw !== undefined && raw !== null) {
    if (!isObject(raw)) fail(where, raw, 'must be an object ({"targets": [...]})');
    knownKeys(raw, SECTION_KEYS, where);
    if (raw.interval_seconds !== undefined) intervalSeconds = bounded(`${where}.interval_seconds`, raw.interval_seconds, LIMITS.intervalSeconds, ' seconds');
    if (raw.external_labels !== undefined) externalLabels = labels(`${where}.external_labels`, raw.external_labels);
    if (raw.targets !== undefined) {
      if (!Array.isArray(raw.targets)) fail(`${where}.targets`, raw.targets, 'must be an array of targets');
      const seen = new Map<string, number>();
      (raw.targets as unknown[]).forEach((item, i) => {
        const t = target(item, `${where}.targets[${i}]`);
        const before = seen.get(t.name);
        if (before !== undefined) fail(`${where}.targets[${i}].name`, t.name, `is already the name of ${where}.targets[${before}]; names must be unique`);
        seen.set(t.name, i);
        targets.push(t);
      });
    }
  }
  let v: string | undefined;
  if ((v = env.HTTP_TRACER_FORWARD_INTERVAL_SECONDS) !== undefined) intervalSeconds = wholeNumber('HTTP_TRACER_FORWARD_INTERVAL_SECONDS', v, ...LIMITS.intervalSeconds, ' seconds');
  if ((v = env.HTTP_TRACER_FORWARD_EXTERNAL_LABELS) !== undefined) {
    const pairs = v.split(',').filter((p) => p.trim() !== '');
    const parsed: Record<string, string> = {};
    for (const p of pairs) {
      const eq = p.indexOf('=');
      if (eq <= 0) fail('HTTP_TRACER_FORWARD_EXTERNAL_LABELS', p, 'must be name=value pairs separated by commas ("cluster=prod,region=eu")');
      parsed[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
    }
    externalLabels = labels('HTTP_TRACER_FORWARD_EXTERNAL_LABELS', parsed);
  }
  for (const { variable, kind } of FORWARD_VARIABLES) {
    const text = env[variable];
    if (text === undefined || text === '') continue;
    const { url, headers } = httpTargetUrl(variable, text);
    const t: ForwardTarget = { name: kind, kind, url, headers, timeoutMs: FORWARD_DEFAULTS.timeoutSeconds * 1000, queueBytes: FORWARD_DEFAULTS.queueBytes, batchSamples: FORWARD_DEFAULTS.batchSamples };
    const same = targets.findIndex((x) => x.name === kind);
    if (same >= 0) targets.splice(same, 1, t);
    else targets.push(t);
  }
  return { intervalMs: intervalSeconds * 1000, externalLabels: { node: nodeName(env), ...externalLabels }, targets };
}
