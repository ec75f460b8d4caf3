/**
 * OTLP protobuf → plain objects, with the same embedded protos the encoder
 * uses: for tests and for test receivers, which check what went on the wire.
 * Field names are the protos' (snake_case); every 64-bit integer is a BigInt
 * (timestamps in ns exceed 2^53); enums are numbers (AggregationTemporality).
 * Fields absent from the wire read as their proto3 defaults, except oneof
 * members and `optional` fields (sum, min, max), which are then absent.
 */
import { otlpTypes } from './proto';

export interface OtlpAnyValue {
  string_value?: string;
  bool_value?: boolean;
  int_value?: bigint;
  double_value?: number;
}

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue | null;
}

export interface OtlpNumberDataPoint {
  attributes: OtlpKeyValue[];
  start_time_unix_nano: bigint;
  time_unix_nano: bigint;
  as_double?: number;
  as_int?: bigint;
  flags: number;
}

export interface OtlpHistogramDataPoint {
  attributes: OtlpKeyValue[];
  start_time_unix_nano: bigint;
  time_unix_nano: bigint;
  count: bigint;
  sum?: number;
  bucket_counts: bigint[];
  explicit_bounds: number[];
  flags: number;
  min?: number;
  max?: number;
}

export interface OtlpMetric {
  name: string;
  description: string;
  unit: string;
  gauge?: { data_points: OtlpNumberDataPoint[] };
  sum?: { data_points: OtlpNumberDataPoint[]; aggregation_temporality: number; is_monotonic: boolean };
  histogram?: { data_points: OtlpHistogramDataPoint[]; aggregation_temporality: number };
}

export interface OtlpScopeMetrics {
  scope: { name: string; version: string } | null;
  metrics: OtlpMetric[];
  schema_url: string;
}

export interface OtlpResourceMetrics {
  resource: { attributes: OtlpKeyValue[]; dropped_attributes_count: number } | null;
  scope_metrics: OtlpScopeMetrics[];
  schema_url: string;
}

export interface OtlpExportRequest {
  resource_metrics: OtlpResourceMetrics[];
}

/**
 * Decodes an ExportMetricsServiceRequest body (uncompressed). Throws
 * protobufjs's error on a body that is not one. The result is new objects,
 * the caller's; `body` is not kept.
 */
export function decodeOtlp(body: Uint8Array): OtlpExportRequest {
  const { ExportMetricsServiceRequest } = otlpTypes();
  const message = ExportMetricsServiceRequest.decode(body);
  return ExportMetricsServiceRequest.toObject(message, { longs: BigInt, enums: Number, arrays: true, defaults: true }) as OtlpExportRequest;
}

/** KeyValues as a record (key → the value that is set), for assertions. */
export function attributeMap(attributes: readonly OtlpKeyValue[]): Record<string, string | boolean | bigint | number | undefined> {
  const out: Record<string, string | boolean | bigint | number | undefined> = {};
  for (const { key, value } of attributes) {
    out[key] = value?.string_value ?? value?.bool_value ?? value?.int_value ?? value?.double_value;
  }
  return out;
}
