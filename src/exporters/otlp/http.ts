/**
 * OTLP/HTTP request details for the sender: where to POST, which
 * Content-Type, and what a 2xx answer's body says (partial success).
 * Binary protobuf encoding only (OTLP/HTTP's default); see the OTLP spec,
 * "OTLP/HTTP" (opentelemetry-proto docs/specification.md).
 */
import { otlpTypes } from './proto';

/** The metrics signal's path under an OTLP/HTTP base URL. */
export const OTLP_METRICS_PATH = '/v1/metrics';
export const OTLP_CONTENT_TYPE = 'application/x-protobuf';
/** Headers every export request carries (plus Content-Encoding: gzip when the sender compresses). */
export const OTLP_REQUEST_HEADERS: Readonly<Record<string, string>> = { 'content-type': OTLP_CONTENT_TYPE };

/**
 * The export URL for a configured endpoint: `/v1/metrics` appended to the
 * base (http://collector:4318 → http://collector:4318/v1/metrics, trailing
 * slashes dropped) unless the path already ends with it (then as is, less
 * any trailing slash); the query is kept.
 * Throws TypeError on a string that is not a URL (configuration validates
 * endpoints before they get here).
 */
export function otlpMetricsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  const pathname = url.pathname.replace(/\/+$/, '');
  url.pathname = pathname.endsWith(OTLP_METRICS_PATH) ? pathname : pathname + OTLP_METRICS_PATH;
  return url.toString();
}

/** ExportMetricsServiceResponse.partial_success: some data points were refused, or a warning. */
export interface OtlpPartialSuccess {
  rejectedDataPoints: number;
  errorMessage: string;
}

function partialOrNull(rejected: number, message: string): OtlpPartialSuccess | null {
  // The spec: rejected 0 with an empty message is the same as no partial_success.
  if (rejected === 0 && message === '') return null;
  return { rejectedDataPoints: rejected, errorMessage: message };
}

/**
 * Reads a 2xx answer's body (an ExportMetricsServiceResponse) for
 * partial_success: null when the export was accepted whole. A body that is
 * not a response (empty, a proxy's HTML) reads as null too: the 2xx status
 * is what says the data was taken. The JSON form is read when the answer
 * says application/json (some servers answer so). Keeps nothing.
 */
export function readExportResponse(body: Uint8Array, contentType?: string): OtlpPartialSuccess | null {
  if (body.length === 0) return null;
  try {
    if (contentType && /json/i.test(contentType)) {
      const json = JSON.parse(Buffer.from(body).toString('utf8')) as { partialSuccess?: { rejectedDataPoints?: unknown; errorMessage?: unknown } };
      const p = json?.partialSuccess;
      if (!p || typeof p !== 'object') return null;
      const rejected = Number(p.rejectedDataPoints ?? 0);
      return partialOrNull(Number.isFinite(rejected) ? rejected : 0, typeof p.errorMessage === 'string' ? p.errorMessage : '');
    }
    const { ExportMetricsServiceResponse } = otlpTypes();
    const decoded = ExportMetricsServiceResponse.toObject(ExportMetricsServiceResponse.decode(body), { longs: Number, defaults: true }) as {
      partial_success: { rejected_data_points: number; error_message: string } | null;
    };
    const p = decoded.partial_success;
    return p ? partialOrNull(p.rejected_data_points, p.error_message) : null;
  } catch {
    return null;
  }
}

/** An ExportMetricsServiceResponse body, for receivers (tests) to answer with. */
export function encodeExportResponse(partial?: OtlpPartialSuccess): Buffer {
  const message = partial ? { partial_success: { rejected_data_points: partial.rejectedDataPoints, error_message: partial.errorMessage } } : {};
  const bytes = otlpTypes().ExportMetricsServiceResponse.encode(message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
