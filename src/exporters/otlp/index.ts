/**
 * The OTLP/HTTP metrics target's wire format: the rollup encoded as an
 * ExportMetricsServiceRequest (encode.ts), the request details and the
 * answer's partial success (http.ts), and a decoder for tests (decode.ts),
 * all over one embedded schema (proto.ts).
 */
export { encodeOtlp, otlpUnit, otlpScopeVersion, perBucketCounts, unixNanos, OTLP_SCOPE_NAME, type OtlpResource } from './encode';
export {
  decodeOtlp,
  attributeMap,
  type OtlpExportRequest,
  type OtlpResourceMetrics,
  type OtlpScopeMetrics,
  type OtlpMetric,
  type OtlpNumberDataPoint,
  type OtlpHistogramDataPoint,
  type OtlpKeyValue,
  type OtlpAnyValue,
} from './decode';
export {
  OTLP_METRICS_PATH,
  OTLP_CONTENT_TYPE,
  OTLP_REQUEST_HEADERS,
  otlpMetricsUrl,
  readExportResponse,
  encodeExportResponse,
  type OtlpPartialSuccess,
} from './http';
export { AggregationTemporality, otlpTypes } from './proto';
