/**
 * The store's exported metrics (naming.ts) in the Prometheus text format
 * 0.0.4, byte for byte what prom-client's Registry writes for the same
 * values, without its per-sample objects, label formatting and line strings:
 * at 10 000 series a scrape is some 60 000 lines, and their label text is
 * nearly all of the bytes.
 *
 *   made once per metric    "# HELP …\n# TYPE …", and the line heads   "\n<name>_bucket{le=\"0.005\"" … "+Inf",
 *                           "\n<name>_sum", "\n<name>_count"
 *   made once per series    the label text, escaped as prom-client escapes it; kept in a WeakMap while the
 *   (first scrape it is in) series lives: a counter's whole head   "\n<name>{service=\"api\",…} ",
 *                           a histogram's   ",service_name=\"api\",…} "  and  "{service_name=\"api\",…} "
 *   per scrape              pieces appended to the caller's array   head, label text, value   — joined once by
 *                           the caller (prometheus.ts) into the one string it serves
 *
 * What a scrape allocates here: a value's text (integers mostly come from
 * V8's number-string cache), a slot per piece in the caller's array, and the
 * joined text itself; no label text. Read on the store's thread, during the
 * call only (the store's series are not kept, but as WeakMap keys).
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

/** One exported metric's block, written from the store's series at each scrape. */
export class MetricExposition {
  readonly metric: ExportedMetric;
  private readonly header: string;
  /** Counters: the name on the sample lines, escaped as prom-client's default name is. */
  private readonly lineName: string;
  /** Histograms: "\n<name>_bucket{le=\"<bound>\"" per bound, then +Inf. */
  private readonly bucketHeads: readonly string[];
  private readonly sumHead: string;
  private readonly countHead: string;
  /** Counters: the line's head up to its value. Histograms: [bucket tail, sum and count tail]. */
  private readonly rendered = new WeakMap<Series, string | readonly [string, string]>();

  constructor(metric: ExportedMetric) {
    if (!preRenderable(metric)) throw new Error(`exposition: ${metric.name} has a label named "le"`);
    this.metric = metric;
    const name = escapeString(metric.name);
    this.header = flat('# HELP ', name, ' ', escapeString(metric.help), '\n# TYPE ', name, ' ', metric.type);
    this.lineName = name;
    // A histogram's lines are named as storeMetric (prometheus.ts) names them: unescaped.
    this.bucketHeads = [...metric.bounds, '+Inf'].map((bound) => flat('\n', metric.name, '_bucket{le="', `${bound}`, '"'));
    this.sumHead = flat('\n', metric.name, '_sum');
    this.countHead = flat('\n', metric.name, '_count');
  }

  /**
   * Appends the metric's block to `out`: its HELP and TYPE lines and one line
   * per sample, each line after a "\n", no newline at the end (the Registry's
   * block, as prom-client joins blocks with "\n\n").
   */
  write(store: Pick<StoreReader, 'seriesOf'>, out: string[]): void {
    const metric = this.metric;
    out.push(this.header);
    if (metric.type === 'counter') {
      for (const s of store.seriesOf(metric.family.name)) {
        if (metric.accepts(s)) out.push(this.counterHead(s), valueText(s.total.value));
      }
      return;
    }
    const heads = this.bucketHeads;
    const last = heads.length - 1;
    for (const s of store.seriesOf(metric.family.name)) {
      if (!metric.accepts(s)) continue;
      const [tail, braced] = this.histogramTails(s);
      const h = s.total.histogram!;
      // Cumulative as collect.ts adds them, so the same doubles.
      let cumulative = 0;
      for (let i = 0; i < last; i++) out.push(heads[i], tail, valueText((cumulative += h.bounds[i])));
      out.push(heads[last], tail, valueText(h.count), this.sumHead, braced, valueText(h.sum), this.countHead, braced, valueText(h.count));
    }
  }

  private counterHead(s: Series): string {
    let head = this.rendered.get(s) as string | undefined;
    if (head === undefined) {
      const text = labelText(this.metric.makeLabels(s));
      head = text === '' ? flat('\n', this.lineName, ' ') : flat('\n', this.lineName, '{', text, '} ');
      this.rendered.set(s, head);
    }
    return head;
  }

  private histogramTails(s: Series): readonly [string, string] {
    let tails = this.rendered.get(s) as readonly [string, string] | undefined;
    if (tails === undefined) {
      const text = labelText(this.metric.makeLabels(s));
      tails = text === '' ? ['} ', ' '] : [flat(',', text, '} '), flat('{', text, '} ')];
      this.rendered.set(s, tails);
    }
    return tails;
  }
}
