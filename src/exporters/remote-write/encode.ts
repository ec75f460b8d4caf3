/**
 * A rollup as remote-write 1.0 bodies: snappy-compressed WriteRequests, each
 * holding at most maxSamplesPerRequest samples and maxBytesPerRequest
 * protobuf bytes. What this returns is what the disk queue keeps and the
 * sender posts, byte for byte.
 *
 *   rollup ──series──> counter, gauge: 1 TimeSeries, 1 sample
 *                      histogram:      <name>_bucket{le=…} per bound, le="+Inf" (= count), <name>_sum, <name>_count
 *          ──labels──> own ∪ external (own wins), __name__, sorted by name; each
 *                      distinct Label message encoded once per call
 *          ──frame───> a TimeSeries appended to the open request; a request
 *                      closes before the series that would pass either limit;
 *                      the first one ends with every family's MetricMetadata
 *          ──snappy──> Buffer[]
 *
 * Every sample carries rollup.timestampMs: the values are cumulative (what
 * /metrics would show at that instant), so Prometheus's rate() and
 * increase() work on them as on scraped ones.
 *
 * Labels: remote-write requires them sorted by name (byte order) with no
 * duplicates. `__name__` sorts first for every lower-case name (ours are
 * snake_case); an upper-case one ("Cluster") sorts before it, as the spec
 * wants. External labels are added only to series without that label, as
 * Prometheus does with its own `external_labels`: a series' label is never
 * overwritten. Empty values are left out (an empty label is an absent one).
 *
 * `le` is written as /metrics writes it (JavaScript's shortest round-trip
 * text: "0.005", "1", "1048576", "+Inf"), so that a series pushed here and
 * the same series scraped from /metrics are one series to Prometheus.
 *
 * Ownership: the rollup is only read, and not kept after return; the
 * buffers returned belong to the caller.
 */
import snappy from 'snappyjs';
import protobuf from 'protobufjs';
import type { Rollup, RollupSeries } from '../rollup';
import { Label as LabelType, MetricMetadata, TAG, WriteRequest, type MetricTypeName } from './prompb';

/** Prometheus's own max_samples_per_send default. */
export const DEFAULT_MAX_SAMPLES_PER_REQUEST = 2000;
/** Uncompressed protobuf bytes per request; well under every receiver's limit (Mimir: 100 MiB, Prometheus: none). */
export const DEFAULT_MAX_BYTES_PER_REQUEST = 1024 * 1024;

export interface EncodeOptions {
  /** Added to every series that lacks the label (node, cluster); empty values are skipped. */
  externalLabels: Record<string, string>;
  /** Samples per request, at most. Default 2000. */
  maxSamplesPerRequest?: number;
  /** Protobuf bytes per request before compression, at most (a single series larger than this goes alone). Default 1 MiB. */
  maxBytesPerRequest?: number;
  /** Whether the first request carries every family's MetricMetadata (type, help), after its series. Default true. */
  metadata?: boolean;
}

export interface EncodedWriteRequest {
  /** The snappy-compressed WriteRequest: a remote-write body as is. */
  body: Buffer;
  /** Samples in the request (one per TimeSeries here). */
  samples: number;
  /** Protobuf bytes before compression. */
  bytes: number;
}

/** The `le` text of a bucket bound, as /metrics writes it. */
export function formatLe(bound: number): string {
  if (bound === Infinity) return '+Inf';
  if (bound === -Infinity) return '-Inf';
  return Number.isNaN(bound) ? 'NaN' : String(bound);
}

/** What a length-delimited field of `length` bytes takes: a one-byte tag, the varint length, the bytes. */
function framedSize(length: number): number {
  return 1 + varintSize(length) + length;
}

function varintSize(n: number): number {
  let size = 1;
  for (; n >= 0x80; n = Math.floor(n / 128)) size++;
  return size;
}

/** A label as sorted and written: its name, and its Label message already encoded. */
interface EncodedLabel {
  name: string;
  bytes: Uint8Array;
}

/**
 * Label messages encoded once per (name, value) in one call: a rollup
 * repeats the same few (node, cluster, service, le …) over thousands of
 * series, and protobufjs's UTF-8 writer is where encoding spent its time.
 */
class LabelCache {
  private readonly byName = new Map<string, Map<string, EncodedLabel>>();
  private readonly byBound = new Map<number, EncodedLabel>();

  /** A bucket's le label, by its bound. */
  le(bound: number): EncodedLabel {
    let label = this.byBound.get(bound);
    if (!label) this.byBound.set(bound, (label = this.get('le', formatLe(bound))));
    return label;
  }

  get(name: string, value: string): EncodedLabel {
    let values = this.byName.get(name);
    if (!values) this.byName.set(name, (values = new Map()));
    let label = values.get(value);
    if (!label) values.set(value, (label = { name, bytes: LabelType.encode({ name, value }).finish() }));
    return label;
  }
}

const byName = (a: EncodedLabel, b: EncodedLabel): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The series' labels and the external ones it lacks, without empty values, sorted by name; __name__ and le are merged in per sample. */
function baseLabels(series: RollupSeries, external: [string, string][], cache: LabelCache): EncodedLabel[] {
  const out: EncodedLabel[] = [];
  const histogram = series.type === 'histogram';
  for (const name of Object.keys(series.labels)) {
    const value = series.labels[name];
    if (value !== '' && name !== '__name__' && !(histogram && name === 'le')) out.push(cache.get(name, value));
  }
  for (const [name, value] of external) if (!(name in series.labels)) out.push(cache.get(name, value));
  return out.sort(byName);
}

class RequestBuilder {
  readonly done: EncodedWriteRequest[] = [];
  private writer = protobuf.Writer.create();
  private bytes = 0;
  private samples = 0;
  /** Metadata waiting for the end of the open request (field 3 after field 1, as protobuf encoders order them); counted in its bytes already. */
  private pendingMetadata: Uint8Array[] = [];
  /** A Sample message's size: the value (tag + 8 bytes) and the timestamp (tag + varint). */
  private readonly sampleSize: number;

  constructor(
    private readonly maxSamples: number,
    private readonly maxBytes: number,
    private readonly timestamp: number,
  ) {
    this.sampleSize = 1 + 8 + 1 + (timestamp < 0 ? 10 : varintSize(timestamp));
  }

  metadata(encoded: Uint8Array): void {
    this.pendingMetadata.push(encoded);
    this.bytes += framedSize(encoded.length);
  }

  /**
   * One TimeSeries of one sample: the labels of base and extra merged in
   * name order (extra: __name__, and le for a bucket; sorted, and never in
   * base), framed here rather than by TimeSeries.encode so that the label
   * bytes are reused. decodeWriteRequest and the tests read it back.
   */
  series(base: EncodedLabel[], extra: EncodedLabel[], value: number): void {
    let content = framedSize(this.sampleSize);
    for (const l of base) content += framedSize(l.bytes.length);
    for (const l of extra) content += framedSize(l.bytes.length);
    const size = framedSize(content);
    if (this.samples > 0 && (this.samples + 1 > this.maxSamples || this.bytes + size > this.maxBytes)) this.close();

    const w = this.writer.uint32(TAG.timeseries).uint32(content);
    let i = 0;
    let j = 0;
    while (i < base.length || j < extra.length) {
      const l = j >= extra.length || (i < base.length && base[i].name < extra[j].name) ? base[i++] : extra[j++];
      w.uint32(TAG.labels).bytes(l.bytes);
    }
    w.uint32(TAG.samples).uint32(this.sampleSize).uint32(TAG.value).double(value).uint32(TAG.timestamp).int64(this.timestamp);
    this.bytes += size;
    this.samples += 1;
  }

  close(): void {
    if (this.samples === 0) return;
    for (const m of this.pendingMetadata) this.writer.uint32(TAG.metadata).bytes(m);
    this.pendingMetadata = [];
    const raw = this.writer.finish();
    // A view, not a copy (BufferWriter already gives a Buffer; Writer a Uint8Array).
    this.done.push({ body: snappy.compress(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)), samples: this.samples, bytes: raw.byteLength });
    this.writer = protobuf.Writer.create();
    this.bytes = 0;
    this.samples = 0;
  }
}

const TYPE_OF: Record<RollupSeries['type'], MetricTypeName> = { counter: 'COUNTER', gauge: 'GAUGE', histogram: 'HISTOGRAM' };

/** The rollup as remote-write bodies, with what each holds. An empty rollup gives none. */
export function encodeWriteRequests(rollup: Rollup, options: EncodeOptions): EncodedWriteRequest[] {
  const maxSamples = Math.max(1, options.maxSamplesPerRequest ?? DEFAULT_MAX_SAMPLES_PER_REQUEST);
  const maxBytes = Math.max(1, options.maxBytesPerRequest ?? DEFAULT_MAX_BYTES_PER_REQUEST);
  const external = Object.entries(options.externalLabels).filter(([, value]) => value !== '');
  const cache = new LabelCache();
  const out = new RequestBuilder(maxSamples, maxBytes, Math.trunc(rollup.timestampMs));

  if (options.metadata !== false) {
    const seen = new Set<string>();
    for (const s of rollup.series) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      out.metadata(MetricMetadata.encode(MetricMetadata.fromObject({ type: TYPE_OF[s.type], metricFamilyName: s.name, help: s.help, unit: '' })).finish());
    }
  }

  const inf = cache.le(Infinity);
  for (const s of rollup.series) {
    const base = baseLabels(s, external, cache);
    if (s.type !== 'histogram') {
      if (s.value !== undefined) out.series(base, [cache.get('__name__', s.name)], s.value);
      continue;
    }
    const h = s.histogram;
    if (!h) continue;
    const bucket = cache.get('__name__', `${s.name}_bucket`);
    for (let i = 0; i < h.bounds.length; i++) out.series(base, [bucket, cache.le(h.bounds[i])], h.cumulative[i]);
    out.series(base, [bucket, inf], h.count);
    out.series(base, [cache.get('__name__', `${s.name}_sum`)], h.sum);
    out.series(base, [cache.get('__name__', `${s.name}_count`)], h.count);
  }
  out.close();
  return out.done;
}

/** encodeWriteRequests' bodies alone. */
export function encodeWriteRequest(rollup: Rollup, options: EncodeOptions): Buffer[] {
  return encodeWriteRequests(rollup, options).map((r) => r.body);
}

export interface DecodedWriteRequest {
  timeseries: { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }[];
  metadata: { type: MetricTypeName; metricFamilyName: string; help: string; unit: string }[];
}

/** A remote-write body read back (tests, debugging). Throws on bad snappy or protobuf; maxBytes bounds the uncompressed size. */
export function decodeWriteRequest(body: Uint8Array, options: { maxBytes?: number } = {}): DecodedWriteRequest {
  const raw = snappy.uncompress(body, options.maxBytes);
  const message = WriteRequest.decode(raw);
  return WriteRequest.toObject(message, { longs: Number, enums: String, defaults: true, arrays: true }) as DecodedWriteRequest;
}
