import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CaptureFileWriter, readCaptureFile } from '../../src/capture/capture-file';
import { ABI_VERSION } from '../../src/capture/abi';
import { decodeExchanges } from '../../src/capture/decoder';
import { batchOf, encodeExchange } from '../helpers/records';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htcap-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, frames: Buffer[]): string {
  const file = path.join(dir, name);
  const w = new CaptureFileWriter(file, 1_700_000_000_000_000_000n);
  for (const f of frames) w.write(f, decodeExchanges(f).length);
  w.close();
  return file;
}

t.test('frames come back byte for byte, in order, with the clock offset', async (t) => {
  const frames = [batchOf(encodeExchange({ status: 200 }), encodeExchange({ status: 201 })), batchOf(encodeExchange({ status: 500 }))];
  const file = write('ok.htcap', frames);
  const seen: Buffer[] = [];
  const info = await readCaptureFile(file, (batch, records, header) => {
    seen.push(batch);
    t.equal(header.wallMinusMonotonicNs, 1_700_000_000_000_000_000n);
    t.equal(records, decodeExchanges(batch).length);
  });
  t.same(seen, frames);
  t.equal(info.frames, 2);
  t.equal(info.records, 3);
});

t.test('not a capture file', async (t) => {
  const file = path.join(dir, 'junk');
  fs.writeFileSync(file, 'GET / HTTP/1.1\r\n\r\nsomething else entirely');
  await t.rejects(readCaptureFile(file, () => void t.fail('no frame')), { code: 'HT_ERR_CAPTURE_FILE', message: /not a capture file/ });
});

t.test('a truncated file delivers its whole frames, then names the offset', async (t) => {
  const frames = [batchOf(encodeExchange({ status: 200 })), batchOf(encodeExchange({ status: 201 }))];
  const full = fs.readFileSync(write('full.htcap', frames));
  const cut = path.join(dir, 'cut.htcap');
  fs.writeFileSync(cut, full.subarray(0, full.length - 5));
  const seen: number[] = [];
  const secondFrameAt = 32 + 8 + frames[0].length;
  await t.rejects(readCaptureFile(cut, (b) => void seen.push(decodeExchanges(b)[0].status)), {
    code: 'HT_ERR_CAPTURE_FILE',
    message: `${cut}: frame at byte ${secondFrameAt} truncated (${frames[1].length - 5} of ${frames[1].length} bytes)`,
  });
  t.same(seen, [200]);
});

t.test('another ABI version is refused with both versions named', async (t) => {
  const file = write('v.htcap', []);
  const bytes = fs.readFileSync(file);
  bytes.writeUInt32LE(99, 8);
  fs.writeFileSync(file, bytes);
  await t.rejects(readCaptureFile(file, () => {}), { code: 'HT_ERR_CAPTURE_FILE', message: new RegExp(`ABI version 99 .* reads version ${ABI_VERSION}`) });
});

t.test('an absurd frame length is corruption, not an allocation', async (t) => {
  const file = write('big.htcap', []);
  const frame = Buffer.alloc(8);
  frame.writeUInt32LE(0xffffffff, 0);
  fs.appendFileSync(file, frame);
  await t.rejects(readCaptureFile(file, () => {}), { code: 'HT_ERR_CAPTURE_FILE', message: /claims 4294967295 bytes/ });
});
