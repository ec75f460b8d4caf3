/**
 * One HTTP POST to a receiver, and what to do next: the small client that
 * remote-write and OTLP share. It knows nothing of their payloads.
 *
 *   sendOnce(target, body, headers)
 *     ──node:http / node:https (ca = the target's CA, when given)──> receiver
 *     <── 2xx                        → ok
 *     <── 429, 5xx                   → retryable (Retry-After kept when given)
 *     <── other status (4xx, 3xx)    → not retryable; message = the body's first 256 characters
 *     ✕   refused, reset, DNS, TLS,
 *         the CA file unreadable,
 *         no answer within timeoutMs → retryable, status 0
 *
 *   postWithRetry = sendOnce until ok or not retryable, waiting
 *   backoffMs(attempt) between attempts (exponential, full jitter).
 *
 * Every outcome of the exchange resolves (nothing to catch); only a target
 * that cannot be used at all (a URL that is not http(s), two ways to
 * authenticate) rejects, with HT_ERR_OPTION. A TLS failure counts as
 * retryable, as Prometheus's remote storage does: a CA file fixed on disk is
 * read again at the next attempt.
 *
 * Ownership: `body` is only read, and not kept after the promise settles.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { TracerError } from '../errors';

export interface HttpTarget {
  /** http:// or https://, with the path the receiver listens on. */
  url: string;
  /** Sent with every request; the caller's headers (the protocol's) and authentication win over these. */
  headers?: Record<string, string>;
  basicAuth?: { username: string; password: string };
  bearerToken?: string;
  /** PEM of the CA(s) to trust instead of the system's (as Prometheus's tls_config.ca_file), already read. */
  ca?: string | Buffer;
  /** The same from a file, read at each request (a CA rotated on disk is picked up). Not with `ca`. */
  caFile?: string;
  /** The whole exchange (connect, send, status and error body), at most. */
  timeoutMs: number;
}

export type SendFailure = 'status' | 'timeout' | 'network' | 'tls' | 'ca_file';

export interface SendResult {
  ok: boolean;
  /** The HTTP status; 0 when none arrived. */
  status: number;
  /** Whether sending the same body again may succeed. */
  retryable: boolean;
  /** '' when ok; the first 256 characters of the body for an HTTP error ("HTTP 404" when empty); what failed otherwise. */
  message: string;
  /** Why it was not ok. */
  failure?: SendFailure;
  /** The receiver's Retry-After (seconds or a date), in ms from now. */
  retryAfterMs?: number;
  durationMs: number;
}

/** What an error answer's message keeps. */
export const MESSAGE_CHARS = 256;
/** What is read of an error answer's body (the rest is drained unread). */
const BODY_BYTES = 4096;

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;

/** Whether a status means "try again later": 429 and 5xx, as the remote-write spec says. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The target's URL; throws HT_ERR_OPTION for a target that cannot be used. */
function prepare(target: HttpTarget): URL {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw new TracerError('HT_ERR_OPTION', `url: "${target.url}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TracerError('HT_ERR_OPTION', `url: ${url.protocol} is not http: or https:`);
  if (target.basicAuth && target.bearerToken) throw new TracerError('HT_ERR_OPTION', 'basic auth and a bearer token: choose one');
  if (target.ca !== undefined && target.caFile !== undefined) throw new TracerError('HT_ERR_OPTION', 'ca and caFile: choose one');
  if (!(target.timeoutMs > 0)) throw new TracerError('HT_ERR_OPTION', `timeoutMs: ${target.timeoutMs} is not a positive number of milliseconds`);
  return url;
}

/**
 * POSTs body once. Headers: the target's, the caller's over them (a user's
 * header cannot change the protocol's), then Authorization (basic or
 * bearer) and Content-Length.
 */
export function sendOnce(target: HttpTarget, body: Uint8Array, headers: Record<string, string>): Promise<SendResult> {
  let url: URL;
  try {
    url = prepare(target);
  } catch (e) {
    return Promise.reject(e);
  }
  const started = Date.now();
  const done = (r: Omit<SendResult, 'durationMs'>): SendResult => ({ ...r, durationMs: Date.now() - started });

  let ca: string | Buffer | undefined = target.ca;
  if (target.caFile !== undefined) {
    try {
      ca = fs.readFileSync(target.caFile);
    } catch (e) {
      return Promise.resolve(done({ ok: false, status: 0, retryable: true, failure: 'ca_file', message: `CA file ${target.caFile}: ${(e as Error).message}` }));
    }
  }

  // One entry per header name whatever its case: the caller's (the protocol's) over the target's, then ours.
  const all: Record<string, string> = {};
  const set = (name: string, value: string): void => {
    for (const key of Object.keys(all)) if (key.toLowerCase() === name.toLowerCase()) delete all[key];
    all[name] = value;
  };
  for (const [name, value] of Object.entries(target.headers ?? {})) set(name, value);
  for (const [name, value] of Object.entries(headers)) set(name, value);
  if (target.basicAuth) set('Authorization', `Basic ${Buffer.from(`${target.basicAuth.username}:${target.basicAuth.password}`).toString('base64')}`);
  else if (target.bearerToken) set('Authorization', `Bearer ${target.bearerToken}`);
  set('Content-Length', String(body.byteLength));

  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const settle = (r: Omit<SendResult, 'durationMs'>): void => {
      if (settled) return;
      settled = true;
      resolve(done(r));
    };
    // Set once the status line arrives: a timeout while reading an error body still reports the status.
    let answered: ((reason: string) => void) | undefined;

    const options: https.RequestOptions = { method: 'POST', headers: all };
    if (ca !== undefined) options.ca = ca;
    const req = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      const status = res.statusCode ?? 0;
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
      if (status >= 200 && status <= 299) {
        res.on('error', () => {}); // a body cut short changes nothing: the status is the answer
        res.resume(); // drained in the background, bounded by the timer
        settle({ ok: true, status, retryable: false, message: '' });
        return;
      }
      const chunks: Buffer[] = [];
      let kept = 0;
      const finish = (suffix = ''): void => {
        const text = Buffer.concat(chunks).toString('utf8').trim().slice(0, MESSAGE_CHARS);
        const retryable = isRetryableStatus(status);
        settle({ ok: false, status, retryable, failure: 'status', message: (text || `HTTP ${status}`) + suffix, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
      };
      answered = (reason) => finish(` (${reason} while reading the body)`);
      res.on('data', (chunk: Buffer) => {
        if (kept < BODY_BYTES) {
          chunks.push(chunk.subarray(0, BODY_BYTES - kept));
          kept += Math.min(chunk.length, BODY_BYTES - kept);
        }
      });
      res.on('end', () => finish());
      res.on('error', (e) => answered?.(e.message));
    });
    // Runs until the exchange closes: also bounds a 2xx body that never ends (drained after the answer).
    const timer = setTimeout(() => {
      const reason = `no answer within ${target.timeoutMs} ms`;
      if (answered) answered('timeout');
      else settle({ ok: false, status: 0, retryable: true, failure: 'timeout', message: reason });
      req.destroy(new Error(reason));
    }, target.timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (answered) return answered(e.message);
      const code = e.code ?? '';
      const failure: SendFailure = TLS_CODES.test(code) ? 'tls' : 'network';
      settle({ ok: false, status: 0, retryable: true, failure, message: code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message });
    });
    req.end(body);
  });
}

export interface BackoffOptions {
  /** The first wait's ceiling. Default 500. */
  initialMs?: number;
  /** No wait's ceiling goes past this. Default 30 000. */
  maxMs?: number;
}

export const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000 } as const;

/**
 * The wait before retry number `attempt` (0 = after the first failure):
 * uniform in [0, min(maxMs, initialMs · 2^attempt)] ("full jitter"), so that
 * many agents failing together do not come back together.
 */
export function backoffMs(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const max = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}

export interface RetryOptions extends BackoffOptions {
  /** Stops waiting and sending (shutdown): the last result is returned. */
  signal?: AbortSignal;
  /** Attempts at most (the first included). Default: no limit. */
  maxAttempts?: number;
  /** After each failed attempt that will be retried, with the wait chosen. */
  onRetry?: (result: SendResult, attempt: number, waitMs: number) => void;
  random?: () => number;
}

/**
 * sendOnce until ok, not retryable, maxAttempts spent or signal aborted;
 * the wait is backoffMs, or the receiver's Retry-After when longer (capped at
 * maxMs). An attempt under way when the signal aborts ends by itself (within
 * the target's timeoutMs).
 */
export async function postWithRetry(target: HttpTarget, body: Uint8Array, headers: Record<string, string>, options: RetryOptions = {}): Promise<SendResult & { attempts: number }> {
  const max = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  for (let attempt = 0; ; attempt++) {
    const result = await sendOnce(target, body, headers);
    const attempts = attempt + 1;
    if (result.ok || !result.retryable || options.signal?.aborted || attempts >= (options.maxAttempts ?? Infinity)) return { ...result, attempts };
    const waitMs = Math.max(backoffMs(attempt, options, options.random), Math.min(max, result.retryAfterMs ?? 0));
    options.onRetry?.(result, attempt, waitMs);
    const aborted = await wait(waitMs, options.signal);
    if (aborted) return { ...result, attempts };
  }
}

/** Resolves true when the signal aborted the wait. */
function wait(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(true);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
