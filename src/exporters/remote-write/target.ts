/**
 * A remote-write receiver as configured, and the protocol's headers: what
 * turns an encoded body (encode.ts, possibly kept in the disk queue since)
 * into a remote-write 1.0 request.
 *
 * Required by the spec (prometheus.io/docs/specs/remote_write_spec):
 * Content-Encoding: snappy, Content-Type: application/x-protobuf,
 * X-Prometheus-Remote-Write-Version: 0.1.0 and a User-Agent; receivers answer
 * 2xx, 4xx for a request that will never be taken (not to be retried) and
 * 5xx or 429 for one to send again, which http-sender.ts classifies.
 *
 * Ownership: the target is only read; the headers object is frozen and shared.
 */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../package-root';
import { postWithRetry, sendOnce, type HttpTarget, type RetryOptions, type SendResult } from '../http-sender';

export interface RemoteWriteTarget {
  /** For logs and metrics: "mimir", "local-prometheus". */
  name: string;
  /** The receiver's write endpoint: Prometheus's is http://HOST:9090/api/v1/write. */
  url: string;
  /** Extra headers (X-Scope-OrgID …); they cannot replace the protocol's. */
  headers: Record<string, string>;
  basicAuth?: { username: string; password: string };
  bearerToken?: string;
  /** PEM of the CA trusted instead of the system's, for an https:// url (as the forwarding config reads it). */
  ca?: string;
  /** The same from a file, read at each request. Not with `ca`. */
  caFile?: string;
  /** One request, at most. */
  timeoutMs: number;
  /** Added to every series without the label (node, cluster); see encode.ts. */
  externalLabels: Record<string, string>;
}

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(__dirname), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const USER_AGENT = `ebpf-http-tracer/${packageVersion()}`;

export const REMOTE_WRITE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Encoding': 'snappy',
  'Content-Type': 'application/x-protobuf',
  'X-Prometheus-Remote-Write-Version': '0.1.0',
  'User-Agent': USER_AGENT,
});

/** The target as http-sender sees it. */
export function httpTarget(target: RemoteWriteTarget): HttpTarget {
  const out: HttpTarget = { url: target.url, headers: target.headers, timeoutMs: target.timeoutMs };
  if (target.basicAuth) out.basicAuth = target.basicAuth;
  if (target.bearerToken !== undefined) out.bearerToken = target.bearerToken;
  if (target.ca !== undefined) out.ca = target.ca;
  if (target.caFile !== undefined) out.caFile = target.caFile;
  return out;
}

/** One remote-write request with an encoded body (encodeWriteRequest's, as is). */
export function sendWriteRequest(target: RemoteWriteTarget, body: Uint8Array): Promise<SendResult> {
  return sendOnce(httpTarget(target), body, REMOTE_WRITE_HEADERS);
}

/** sendWriteRequest until it is taken, refused for good, or options.signal aborts (see postWithRetry). */
export function sendWriteRequestWithRetry(target: RemoteWriteTarget, body: Uint8Array, options: RetryOptions = {}): Promise<SendResult & { attempts: number }> {
  return postWithRetry(httpTarget(target), body, REMOTE_WRITE_HEADERS, options);
}
