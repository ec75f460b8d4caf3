/**
 * A raw TCP client in the test process itself: the agent excludes its own
 * process, so only the server side of these connections is captured. It lets
 * tests send exactly the bytes they want (pipelined, split, garbage).
 */
import net from 'node:net';
import { sleep } from './kernel';

export class RawClient {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d) => (this.received = Buffer.concat([this.received, d])));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Writes each piece in its own syscall, pausing between them. */
  async send(pieces: (string | Buffer)[], pauseMs = 0): Promise<number> {
    let total = 0;
    for (const p of pieces) {
      const b = Buffer.isBuffer(p) ? p : Buffer.from(p, 'latin1');
      total += b.length;
      await new Promise<void>((resolve, reject) => this.socket.write(b, (err) => (err ? reject(err) : resolve())));
      if (pauseMs) await sleep(pauseMs);
    }
    return total;
  }

  /** Waits until `count` status lines have arrived (or the connection closed). */
  async waitForResponses(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.statusLines().length < count) {
      if (Date.now() > deadline) throw new Error(`got ${this.statusLines().length} of ${count} responses: ${this.received.toString('latin1')}`);
      await sleep(10);
    }
  }

  /** Waits until `bytes` bytes have arrived. */
  async waitForBytes(bytes: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < bytes) {
      if (Date.now() > deadline) throw new Error(`got ${this.received.length} of ${bytes} bytes`);
      await sleep(10);
    }
  }

  statusLines(): string[] {
    return this.received.toString('latin1').match(/HTTP\/1\.[01] \d{3}/g) ?? [];
  }

  close(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function request(method: string, path: string, headers: Record<string, string | number> = {}, body = ''): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: test.local', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return lines.join('\r\n') + '\r\n\r\n' + body;
}
