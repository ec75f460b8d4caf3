/**
 * HTTP/1.1 responses as they came over the wire, cut apart by their own
 * framing (Content-Length or chunked): what a peer received, per response, to
 * judge the capture against.
 */
export interface WireResponse {
  status: number;
  /** Bytes on the wire: status line, headers and body (interim 1xx responses are their own entries). */
  bytes: number;
}

/** Splits whole responses off `received`; throws on bytes that are not a response. */
export function splitResponses(received: Buffer): WireResponse[] {
  const out: WireResponse[] = [];
  let at = 0;
  while (at < received.length) {
    const headEnd = received.indexOf('\r\n\r\n', at);
    if (headEnd < 0) throw new Error(`a partial response head at byte ${at}`);
    const head = received.toString('latin1', at, headEnd);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
    if (!status) throw new Error(`not a response at byte ${at}: ${JSON.stringify(head.slice(0, 60))}`);
    let end = headEnd + 4;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (status >= 100 && status < 200) {
      // no body
    } else if (length) {
      end += Number(length[1]);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      for (;;) {
        const lineEnd = received.indexOf('\r\n', end);
        if (lineEnd < 0) throw new Error('a partial chunked body');
        const size = parseInt(received.toString('latin1', end, lineEnd), 16);
        end = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
    }
    if (end > received.length) throw new Error(`a partial body at byte ${at}`);
    out.push({ status, bytes: end - at });
    at = end;
  }
  return out;
}

/**
 * Waits until `received()` holds exactly `count` whole responses (a status
 * line can arrive before its body), then returns them.
 */
export async function wholeResponses(received: () => Buffer, count: number, timeoutMs = 5000): Promise<WireResponse[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let error: unknown;
    try {
      const responses = splitResponses(received());
      if (responses.length >= count) return responses;
    } catch (e) {
      error = e;
    }
    if (Date.now() > deadline) throw new Error(`no ${count} whole responses after ${timeoutMs} ms: ${error ?? 'too few'}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
