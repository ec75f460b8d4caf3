/**
 * The OTLP metrics protos, embedded as text so that src/ (ts-node) and dist/
 * load the same schema without shipping .proto files. The encoder, the
 * decoder and the test receiver all parse these; nothing else defines OTLP.
 *
 * A subset of open-telemetry/opentelemetry-proto (field numbers and wire types
 * unchanged; fields we neither write nor read are left out, and a decoder
 * skips them as unknown fields):
 *   opentelemetry/proto/collector/metrics/v1/metrics_service.proto
 *   opentelemetry/proto/metrics/v1/metrics.proto
 *   opentelemetry/proto/common/v1/common.proto
 *   opentelemetry/proto/resource/v1/resource.proto
 * Every number and type was checked against the generated field tags of
 * open-telemetry/opentelemetry-proto-go (otlp/.../*.pb.go, protoc-gen-go
 * v1.36.11); test/exporters/otlp.test.ts holds the same table and checks it.
 *
 * Left out: Exemplar, ExponentialHistogram, Summary, Metric.metadata,
 * AnyValue's array/kvlist/bytes values, scope attributes, entity_refs.
 * Note the 64-bit wire types: timestamps, count and bucket_counts are
 * fixed64, as_int is sfixed64, rejected_data_points is a varint int64.
 */
import protobuf from 'protobufjs';

export const COMMON_PROTO = `
syntax = "proto3";
package opentelemetry.proto.common.v1;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
  }
}

message KeyValue {
  string key = 1;
  AnyValue value = 2;
}

message InstrumentationScope {
  string name = 1;
  string version = 2;
}
`;

export const RESOURCE_PROTO = `
syntax = "proto3";
package opentelemetry.proto.resource.v1;

message Resource {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 1;
  uint32 dropped_attributes_count = 2;
}
`;

export const METRICS_PROTO = `
syntax = "proto3";
package opentelemetry.proto.metrics.v1;

message ResourceMetrics {
  opentelemetry.proto.resource.v1.Resource resource = 1;
  repeated ScopeMetrics scope_metrics = 2;
  string schema_url = 3;
}

message ScopeMetrics {
  opentelemetry.proto.common.v1.InstrumentationScope scope = 1;
  repeated Metric metrics = 2;
  string schema_url = 3;
}

message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
    Histogram histogram = 9;
  }
}

message Gauge {
  repeated NumberDataPoint data_points = 1;
}

message Sum {
  repeated NumberDataPoint data_points = 1;
  AggregationTemporality aggregation_temporality = 2;
  bool is_monotonic = 3;
}

message Histogram {
  repeated HistogramDataPoint data_points = 1;
  AggregationTemporality aggregation_temporality = 2;
}

enum AggregationTemporality {
  AGGREGATION_TEMPORALITY_UNSPECIFIED = 0;
  AGGREGATION_TEMPORALITY_DELTA = 1;
  AGGREGATION_TEMPORALITY_CUMULATIVE = 2;
}

message NumberDataPoint {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value {
    double as_double = 4;
    sfixed64 as_int = 6;
  }
  uint32 flags = 8;
}

message HistogramDataPoint {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 9;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
  repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7;
  uint32 flags = 10;
  optional double min = 11;
  optional double max = 12;
}
`;

export const METRICS_SERVICE_PROTO = `
syntax = "proto3";
package opentelemetry.proto.collector.metrics.v1;

message ExportMetricsServiceRequest {
  repeated opentelemetry.proto.metrics.v1.ResourceMetrics resource_metrics = 1;
}

message ExportMetricsServiceResponse {
  ExportMetricsPartialSuccess partial_success = 1;
}

message ExportMetricsPartialSuccess {
  int64 rejected_data_points = 1;
  string error_message = 2;
}
`;

/** AggregationTemporality's values (metrics.proto). */
export const AggregationTemporality = {
  UNSPECIFIED: 0,
  DELTA: 1,
  CUMULATIVE: 2,
} as const;

export interface OtlpTypes {
  root: protobuf.Root;
  ExportMetricsServiceRequest: protobuf.Type;
  ExportMetricsServiceResponse: protobuf.Type;
}

let types: OtlpTypes | undefined;

/**
 * The parsed schema, built on first use and shared (protobufjs types are
 * immutable once resolved). Field names are the protos' own (keepCase), so
 * messages read as the .proto text does: `resource_metrics`, `as_double`.
 */
export function otlpTypes(): OtlpTypes {
  if (types) return types;
  const root = new protobuf.Root();
  for (const source of [COMMON_PROTO, RESOURCE_PROTO, METRICS_PROTO, METRICS_SERVICE_PROTO]) {
    protobuf.parse(source, root, { keepCase: true });
  }
  root.resolveAll();
  types = {
    root,
    ExportMetricsServiceRequest: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
    ExportMetricsServiceResponse: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse'),
  };
  return types;
}
