import { PassThrough } from 'node:stream';
import t from 'tap';
import { batchPrinter, MAX_PENDING_OUTPUT_BYTES } from '../../src/cli/trace';
import { batchOf, encodeExchange } from '../helpers/records';

const batch = batchOf(...Array.from({ length: 100 }, (_, i) => encodeExchange({ status: 200 + (i % 3), head: `GET /r/${i} HTTP/1.1\r\n\r\n` })));

t.test('live capture drops and counts lines while a slow reader lags, never buffering without bound', async (t) => {
  const out = new PassThrough({ highWaterMark: 1024 }); // nobody reads it
  const printer = batchPrinter({}, false, () => 0n, out, true);
  let printed = 0;
  for (let i = 0; i < 2000; i++) printed += printer.print(batch);
  t.equal(printed, 200_000, 'every exchange passed the filter');
  t.ok(printer.dropped > 0, `${printer.dropped} lines dropped`);
  t.ok(out.writableLength <= MAX_PENDING_OUTPUT_BYTES + 64 * 1024, `pending output bounded: ${out.writableLength} bytes`);
});

t.test('replay does not drop: it leaves waiting to the caller', async (t) => {
  const out = new PassThrough({ highWaterMark: 1024 });
  const printer = batchPrinter({ statusClasses: ['2xx'] }, true, () => 0n, out, false);
  for (let i = 0; i < 10; i++) printer.print(batch);
  t.equal(printer.dropped, 0);
  t.equal(out.writableNeedDrain, true, 'the caller sees it must wait for drain');
  out.end();
  let text = '';
  for await (const chunk of out) text += chunk;
  t.equal(text.trim().split('\n').length, 1000, 'every line written: 10 batches of 100');
});
