/**
 * Userspace cost per exchange, without the kernel: synthetic batches of
 * realistic records through the decoder and the `trace` formatters.
 * Reports ns per exchange for each stage.
 *
 *   npm run bench:decode -- [--exchanges 500000]
 */
import { parseArgs } from 'node:util';
import { ExchangeCursor } from '../src/capture/decoder';
import { formatJson, formatLine } from '../src/cli/exchange-line';
import { encodeExchange } from '../test/helpers/records';

const { values } = parseArgs({ options: { exchanges: { type: 'string', default: '500000' } } });
const TOTAL = Number(values.exchanges);
const PER_BATCH = 200;

const paths = ['/api/users', '/api/users/42', '/api/orders?id=7', '/health', '/static/app.js'];
const records = paths.map((p, i) =>
  encodeExchange({
    head: `GET ${p} HTTP/1.1\r\nHost: shop.local:8080\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n`,
    headCapacity: 256,
    status: i === 3 ? 404 : 200,
    comm: 'nginx',
    startNs: 1_000_000_000n + BigInt(i),
    endNs: 1_001_234_567n + BigInt(i),
  }),
);
const batch = Buffer.concat(Array.from({ length: PER_BATCH }, (_, i) => records[i % records.length]));
const batches = Math.ceil(TOTAL / PER_BATCH);

function time(name: string, perBatch: (b: Buffer) => number): void {
  for (let i = 0; i < 20; i++) perBatch(batch); // warm up
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) sink += perBatch(batch);
  const ns = Number(process.hrtime.bigint() - start) / (batches * PER_BATCH);
  process.stdout.write(`${name.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/exchange  (${sink > 0 ? 'ok' : '-'})\n`);
}

time('cursor: status + duration', (b) => {
  const c = new ExchangeCursor(b);
  let n = 0;
  while (c.next()) n += c.status + c.durationNs;
  return n;
});
time('cursor.toExchange()', (b) => {
  const c = new ExchangeCursor(b);
  let n = 0;
  while (c.next()) n += c.toExchange().status;
  return n;
});
time('toExchange + formatLine (trace)', (b) => {
  const c = new ExchangeCursor(b);
  let out = '';
  while (c.next()) out += formatLine(c.toExchange(), 1_800_000_000_000) + '\n';
  return out.length;
});
time('toExchange + formatJson (trace --json)', (b) => {
  const c = new ExchangeCursor(b);
  let out = '';
  while (c.next()) out += formatJson(c.toExchange(), 1_800_000_000_000) + '\n';
  return out.length;
});
