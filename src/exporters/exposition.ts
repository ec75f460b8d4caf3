/**
 * The store's exported metrics (naming.ts) in the Prometheus text format
 * 0.0.4, byte for byte what prom-client's Registry writes for the same
 * values, without its per-sample objects, label formatting and line strings:
 * at 10 000 series a scrape is some 60 000 lines, and their label text is
 * nearly all of the bytes.
 *
 *   made once per metric    HELP and TYPE lines; line heads as Latin-1 bytes:
 *                           "\n<name>_bucket{le=\"0.005\"" … "+Inf", "\n<name>_sum", "\n<name>_count"
 *   made once per series    its label text, escaped as prom-client escapes it, as Latin-1 bytes, in a
 *   (first scrape it is in) WeakMap while the series lives: a counter's whole head "\n<name>{service=\"api\",…} ",
 *                           a histogram's ",service_name=\"api\",…} " (its _sum and _count: "{" for ",")
 *   per scrape              TextWriter: one buffer  <- head bytes, label bytes, value digits, copied in
 *                                         |
 *                                         +--> one Latin-1 string (outside the V8 heap when over a MiB)
 *
 * What a scrape allocates on the V8 heap here: a non-integer value's text
 * (a histogram's sum), little else; the buffer and the text are as long as
 * the text, outside the heap. No label text is made, escaped or copied into a
 * string per scrape. Runs on the store's thread, during the call (the
 * store's series are kept only as WeakMap keys).
 *
 * Not for a histogram with a label named "le": prom-client then leaves its
 * own le out of the bucket lines; such a metric goes through the Registry
 * (preRenderable).
 */
import type { Series } from '../analytics/store';
import type { StoreReader } from '../server/sources';
import type { ExportedMetric } from './naming';

/** A sample's value as prom-client writes it (lib/util.js getValueAsString). */
export function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

/** prom-client's escaping of HELP text and names: backslash and newline. */
const escapeString = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
/** prom-client's escaping of a label value: escapeString, then the double quote (a non-string is written as JavaScript prints it). */
const escapeLabelValue = (v: unknown): unknown => (typeof v === 'string' ? escapeString(v).replace(/"/g, '\\"') : v);

/** Labels as prom-client flattens them: name="value" in the object's own order, comma-separated; "" for none. */
export function labelText(labels: Readonly<Record<string, unknown>>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
    .join(',');
}

/** The pieces as one flat string (join makes one; `+` would keep a tree of them), so that each scrape copies it in one go. */
const flat = (...pieces: string[]): string => pieces.join('');

/** Whether a metric can be written here: not a histogram with an "le" label of its own (see above). */
export function preRenderable(metric: ExportedMetric): boolean {
  return metric.type !== 'histogram' || !metric.labelNames.includes('le');
}

const LATIN1_ONLY = /^[\x00-\xff]*$/;
const OPEN_BRACE = 0x7b;
const DIGIT_0 = 0x30;
/** The longest text valueText gives ("-1.2345678901234567e-308"), with room to spare. */
const VALUE_BYTES = 25;

/**
 * The exposition's text as Latin-1 bytes (one byte per character: every
 * character of captured text is U+0000–U+00FF) in one buffer, made into a
 * string once; a text with a character past U+00FF is kept as a string
 * piece instead, and the pieces joined (rare: the text is copied once more).
 * The buffer is the writer's alone and dropped with it (nothing is kept
 * between scrapes); the string is the caller's.
 */
export class TextWriter {
  private buf: Buffer;
  private at = 0;
  private runStart = 0;
  /** The text so far, when some of it is not Latin-1. */
  private pieces: string[] | undefined;

  /** sizeHintBytes: what the text is expected to take (the previous scrape's length). */
  constructor(sizeHintBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(sizeHintBytes, 64 * 1024));
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  /** Latin-1 bytes made by latin1(). */
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  text(s: string): void {
    if (LATIN1_ONLY.test(s)) {
      this.room(s.length);
      this.at += this.buf.write(s, this.at, 'latin1');
      return;
    }
    (this.pieces ??= []).push(this.buf.toString('latin1', this.runStart, this.at), s);
    this.runStart = this.at;
  }

  /** A value as valueText writes it; an integer's digits without a string. */
  value(v: number): void {
    this.room(VALUE_BYTES);
    const buf = this.buf;
    if (v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v)) {
      if (v < 10) {
        buf[this.at++] = DIGIT_0 + v; // -0 too: "0"
        return;
      }
      let digits = 1;
      for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
      const end = this.at + digits;
      for (let x = v, i = end; x > 0; x = Math.floor(x / 10)) buf[--i] = DIGIT_0 + (x % 10);
      this.at = end;
      return;
    }
    this.at += buf.write(valueText(v), this.at, 'latin1');
  }

  /** Replaces the byte `back` bytes before the end (a label text's leading comma by a brace). */
  patch(back: number, byte: number): void {
    this.buf[this.at - back] = byte;
  }

  /** The text written. The writer is done with. */
  finish(): string {
    if (!this.pieces) return this.buf.toString('latin1', 0, this.at);
    this.pieces.push(this.buf.toString('latin1', this.runStart, this.at));
    return this.pieces.join('');
  }
}

/** Latin-1 bytes of a text, or the text itself when it has a character past U+00FF. */
const latin1 = (s: string): Buffer | string => (LATIN1_ONLY.test(s) ? Buffer.from(s, 'latin1') : s);

/** One exported metric's block, written from the store's series at each scrape. */
export class MetricExposition {
  readonly metric: ExportedMetric;
  private readonly header: Buffer | string;
  /** Counters: the name on the sample lines, escaped as prom-client's default name is. */
  private readonly lineName: string;
  /** Histograms: "\n<name>_bucket{le=\"<bound>\"" per bound, then +Inf. */
  private readonly bucketHeads: readonly Buffer[];
  private readonly sumHead: Buffer;
  private readonly countHead: Buffer;
  /**
   * Per series: a counter's "\n<name>{labels} ", a histogram's ",labels} "
   * (its sum and count lines write it with "{" for ","), "} " when it has
   * no labels. A string when not Latin-1.
   */
  private readonly rendered = new WeakMap<Series, Buffer | string>();

  constructor(metric: ExportedMetric) {
    if (!preRenderable(metric)) throw new Error(`exposition: ${metric.name} has a label named "le"`);
    this.metric = metric;
    const name = escapeString(metric.name);
    this.header = latin1(flat('# HELP ', name, ' ', escapeString(metric.help), '\n# TYPE ', name, ' ', metric.type));
    this.lineName = name;
    // A histogram's lines are named as storeMetric (prometheus.ts) names them: unescaped.
    this.bucketHeads = [...metric.bounds, '+Inf'].map((bound) => Buffer.from(flat('\n', metric.name, '_bucket{le="', `${bound}`, '"'), 'latin1'));
    this.sumHead = Buffer.from(flat('\n', metric.name, '_sum'), 'latin1');
    this.countHead = Buffer.from(flat('\n', metric.name, '_count'), 'latin1');
  }

  /**
   * Writes the metric's block: its HELP and TYPE lines and one line per
   * sample, each line after a "\n", no newline at the end (the Registry's
   * block, as prom-client joins blocks with "\n\n").
   */
  write(store: Pick<StoreReader, 'seriesOf'>, out: TextWriter): void {
    const metric = this.metric;
    if (typeof this.header === 'string') out.text(this.header);
    else out.bytes(this.header);
    if (metric.type === 'counter') {
      for (const s of store.seriesOf(metric.family.name)) {
        if (!metric.accepts(s)) continue;
        const head = this.counterHead(s);
        if (typeof head === 'string') out.text(head);
        else out.bytes(head);
        out.value(s.total.value);
      }
      return;
    }
    const heads = this.bucketHeads;
    const last = heads.length - 1;
    for (const s of store.seriesOf(metric.family.name)) {
      if (!metric.accepts(s)) continue;
      const tail = this.histogramTail(s);
      if (typeof tail === 'string') {
        this.writeHistogramText(s, tail, out);
        continue;
      }
      const h = s.total.histogram!;
      // Cumulative as collect.ts adds them, so the same doubles.
      let cumulative = 0;
      for (let i = 0; i < last; i++) {
        out.bytes(heads[i]);
        out.bytes(tail);
        out.value((cumulative += h.bounds[i]));
      }
      out.bytes(heads[last]);
      out.bytes(tail);
      out.value(h.count);
      out.bytes(this.sumHead);
      this.braced(tail, out);
      out.value(h.sum);
      out.bytes(this.countHead);
      this.braced(tail, out);
      out.value(h.count);
    }
  }

  /** The sum's and count's labels: the buckets' tail with "{" for its ","; " " for none (the buckets': "} "). */
  private braced(tail: Buffer, out: TextWriter): void {
    if (tail === NO_LABELS_TAIL) out.bytes(SPACE);
    else {
      out.bytes(tail);
      out.patch(tail.length, OPEN_BRACE);
    }
  }

  /** A histogram whose label text is not Latin-1: the same lines, as strings. */
  private writeHistogramText(s: Series, tail: string, out: TextWriter): void {
    const h = s.total.histogram!;
    const braced = `{${tail.slice(1)}`;
    let cumulative = 0;
    this.bucketHeads.forEach((head, i) => {
      out.bytes(head);
      out.text(tail);
      out.value(i < this.bucketHeads.length - 1 ? (cumulative += h.bounds[i]) : h.count);
    });
    out.bytes(this.sumHead);
    out.text(braced);
    out.value(h.sum);
    out.bytes(this.countHead);
    out.text(braced);
    out.value(h.count);
  }

  private counterHead(s: Series): Buffer | string {
    let head = this.rendered.get(s);
    if (head === undefined) {
      const text = labelText(this.metric.makeLabels(s));
      head = latin1(text === '' ? flat('\n', this.lineName, ' ') : flat('\n', this.lineName, '{', text, '} '));
      this.rendered.set(s, head);
    }
    return head;
  }

  private histogramTail(s: Series): Buffer | string {
    let tail = this.rendered.get(s);
    if (tail === undefined) {
      const text = labelText(this.metric.makeLabels(s));
      tail = text === '' ? NO_LABELS_TAIL : latin1(flat(',', text, '} '));
      this.rendered.set(s, tail);
    }
    return tail;
  }
}

const SPACE = Buffer.from(' ', 'latin1');
const NO_LABELS_TAIL = Buffer.from('} ', 'latin1');
