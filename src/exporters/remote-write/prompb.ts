/**
 * The remote-write 1.0 messages, parsed once at module load with protobufjs.
 *
 * Upstream: github.com/prometheus/prometheus, prompb/types.proto and
 * prompb/remote.proto (package `prometheus`). Kept, with upstream's field
 * numbers:
 *   WriteRequest   { timeseries = 1; metadata = 3 }          (2 is reserved upstream: Cortex's source)
 *   TimeSeries     { labels = 1; samples = 2 }                (exemplars = 3, histograms = 4 left out)
 *   Label          { name = 1; value = 2 }
 *   Sample         { value = 1 (double); timestamp = 2 (int64, Unix ms) }
 *   MetricMetadata { type = 1 (MetricType); metric_family_name = 2; help = 4; unit = 5 }
 * Dropped: the gogoproto options (Go code generation only) and everything
 * of remote read. Unknown fields decode as skipped, so a receiver's newer
 * schema reads these bytes the same.
 *
 * The text lives in this module, not in a .proto file, so that dist/ needs
 * nothing tsc does not copy.
 */
import protobuf from 'protobufjs';

export const PROMPB_PROTO = `
syntax = "proto3";
package prometheus;

message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
  repeated MetricMetadata metadata = 3;
}

message MetricMetadata {
  enum MetricType {
    UNKNOWN        = 0;
    COUNTER        = 1;
    GAUGE          = 2;
    HISTOGRAM      = 3;
    GAUGEHISTOGRAM = 4;
    SUMMARY        = 5;
    INFO           = 6;
    STATESET       = 7;
  }
  MetricType type = 1;
  string metric_family_name = 2;
  string help = 4;
  string unit = 5;
}

message Sample {
  double value    = 1;
  int64 timestamp = 2;
}

message TimeSeries {
  repeated Label labels   = 1;
  repeated Sample samples = 2;
}

message Label {
  string name  = 1;
  string value = 2;
}
`;

const root = protobuf.parse(PROMPB_PROTO, { keepCase: false }).root;

export const WriteRequest = root.lookupType('prometheus.WriteRequest');
export const TimeSeries = root.lookupType('prometheus.TimeSeries');
export const Sample = root.lookupType('prometheus.Sample');
export const MetricMetadata = root.lookupType('prometheus.MetricMetadata');
export const Label = root.lookupType('prometheus.Label');

/** A field's tag (number << 3 | wire type), from the parsed schema: field numbers live in PROMPB_PROTO only. */
function tag(type: protobuf.Type, field: string): number {
  const f = type.fields[field];
  if (!f) throw new Error(`prompb: ${type.name} has no field ${field}`);
  // The wire types of the field types used here: double is 64-bit (1), int64 a varint (0), a message length-delimited (2).
  const wire = f.type === 'double' ? 1 : f.type === 'int64' ? 0 : 2;
  return (f.id << 3) | wire;
}

/** Tags for the encoder that frames TimeSeries itself (encode.ts). */
export const TAG = {
  timeseries: tag(WriteRequest, 'timeseries'),
  metadata: tag(WriteRequest, 'metadata'),
  labels: tag(TimeSeries, 'labels'),
  samples: tag(TimeSeries, 'samples'),
  value: tag(Sample, 'value'),
  timestamp: tag(Sample, 'timestamp'),
} as const;

/** MetricMetadata.MetricType's names (MetricMetadata.fromObject takes them). */
export type MetricTypeName = 'UNKNOWN' | 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'GAUGEHISTOGRAM' | 'SUMMARY' | 'INFO' | 'STATESET';
