/**
 * Rollup → OTLP/HTTP protobuf body (an ExportMetricsServiceRequest,
 * uncompressed: gzip, if any, is the sender's business).
 *
 *   Rollup { timestampMs, series[] }
 *     │  group by (name, type), in first-seen order
 *     ▼
 *   ExportMetricsServiceRequest
 *   └─ ResourceMetrics   resource: the given attributes (host.name, service.name, …)
 *      └─ ScopeMetrics   scope: "ebpf-http-tracer" @ package version
 *         └─ Metric × name   name and help as on /metrics, unit from the name's suffix
 *              counter   → Sum { is_monotonic, CUMULATIVE, as_double }
 *              gauge     → Gauge { as_double }
 *              histogram → Histogram { CUMULATIVE, per-bucket counts, +Inf last }
 *            one data point per series: attributes = labels (sorted by key),
 *            start = series.startMs, time = rollup.timestampMs (ns, exact)
 *
 * Names stay the rollup's (http_requests_total, not http.server.request.count)
 * so the remote-write and OTLP targets carry one metric shape; only `unit`
 * is added. An empty rollup still carries the resource and the scope, with
 * no metrics (a valid request; the receiver sees the agent is alive).
 */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../package-root';
import type { Rollup, RollupHistogram, RollupSeries } from '../rollup';
import { AggregationTemporality, otlpTypes } from './proto';

/** Resource attributes: host.name and service.name are required; undefined values are left out. */
export interface OtlpResource {
  'host.name': string;
  'service.name': string;
  'service.version'?: string;
  [key: string]: string | undefined;
}

export const OTLP_SCOPE_NAME = 'ebpf-http-tracer';

let scopeVersion: string | undefined;

/** The package's version (read once from package.json; works from src/ and dist/). */
export function otlpScopeVersion(): string {
  if (scopeVersion === undefined) {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(__dirname), 'package.json'), 'utf8')) as { version?: unknown };
    scopeVersion = typeof pkg.version === 'string' ? pkg.version : '';
  }
  return scopeVersion;
}

/**
 * The UCUM unit for an exported name: "s" for *_seconds, "By" for *_bytes,
 * "1" otherwise. A counter's `_total` is looked through
 * (http_tracer_capture_stalled_seconds_total is in seconds).
 */
export function otlpUnit(name: string): string {
  const base = name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
  if (base.endsWith('_seconds')) return 's';
  if (base.endsWith('_bytes')) return 'By';
  return '1';
}

/**
 * Unix ms → Unix ns as an exact BigInt (ns since 1970 exceed 2^53, so never
 * through a double). Sub-millisecond fractions are kept to the nanosecond.
 */
export function unixNanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

/**
 * A 64-bit value as protobufjs's Long-like bits. protobufjs's writer reads
 * `low`/`high`; a BigInt handed to it directly would be written as 0.
 */
function fixed64(value: bigint): { low: number; high: number; unsigned: boolean } {
  return { low: Number(value & 0xffff_ffffn) | 0, high: Number((value >> 32n) & 0xffff_ffffn) | 0, unsigned: true };
}

/**
 * Cumulative-per-bound counts → OTLP's per-bucket counts, one more than the
 * bounds (the +Inf bucket last = count − cumulative[last]). A count that
 * would go negative (inconsistent input) is written as 0, never as 2^64−n.
 */
export function perBucketCounts(h: RollupHistogram): number[] {
  const out: number[] = [];
  let below = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    const cumulative = h.cumulative[i] ?? below;
    out.push(Math.max(0, cumulative - below));
    below = Math.max(below, cumulative);
  }
  out.push(Math.max(0, h.count - below));
  return out;
}

type KeyValue = { key: string; value: { string_value: string } };

function attributes(labels: Record<string, string>): KeyValue[] {
  return Object.keys(labels)
    .sort()
    .map((key) => ({ key, value: { string_value: labels[key] } }));
}

function dataPoint(series: RollupSeries, time: ReturnType<typeof fixed64>): object | undefined {
  const start = fixed64(unixNanos(series.startMs));
  if (series.type === 'histogram') {
    const h = series.histogram;
    if (!h) return undefined;
    return {
      attributes: attributes(series.labels),
      start_time_unix_nano: start,
      time_unix_nano: time,
      count: h.count,
      sum: h.sum,
      bucket_counts: perBucketCounts(h),
      explicit_bounds: h.bounds,
    };
  }
  if (series.value === undefined) return undefined;
  return { attributes: attributes(series.labels), start_time_unix_nano: start, time_unix_nano: time, as_double: series.value };
}

function metricData(type: RollupSeries['type'], points: object[]): object {
  switch (type) {
    case 'counter':
      return { sum: { data_points: points, aggregation_temporality: AggregationTemporality.CUMULATIVE, is_monotonic: true } };
    case 'gauge':
      return { gauge: { data_points: points } };
    case 'histogram':
      return { histogram: { data_points: points, aggregation_temporality: AggregationTemporality.CUMULATIVE } };
  }
}

/**
 * Encodes one rollup. Reads `rollup` and `resource` during the call only and
 * keeps nothing; the returned Buffer is the caller's. A series missing its
 * value (or histogram) is left out, and a name left with no points too.
 */
export function encodeOtlp(rollup: Rollup, resource: OtlpResource): Buffer {
  const time = fixed64(unixNanos(rollup.timestampMs));
  const byName = new Map<string, { name: string; help: string; type: RollupSeries['type']; points: object[] }>();
  for (const series of rollup.series) {
    const key = `${series.type}\u0000${series.name}`;
    let metric = byName.get(key);
    if (!metric) {
      metric = { name: series.name, help: series.help, type: series.type, points: [] };
      byName.set(key, metric);
    }
    const point = dataPoint(series, time);
    if (point) metric.points.push(point);
  }
  const metrics: object[] = [];
  for (const m of byName.values()) {
    if (m.points.length === 0) continue;
    metrics.push({ name: m.name, description: m.help, unit: otlpUnit(m.name), ...metricData(m.type, m.points) });
  }
  const resourceAttributes: KeyValue[] = [];
  for (const [key, value] of Object.entries(resource)) {
    if (value !== undefined) resourceAttributes.push({ key, value: { string_value: value } });
  }
  const request = {
    resource_metrics: [
      {
        resource: { attributes: resourceAttributes },
        scope_metrics: [{ scope: { name: OTLP_SCOPE_NAME, version: otlpScopeVersion() }, metrics }],
      },
    ],
  };
  const bytes = otlpTypes().ExportMetricsServiceRequest.encode(request).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
