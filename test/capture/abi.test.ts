/**
 * The C header, the addon and the TypeScript decoder agree on every offset
 * and size: the addon reports sizeof/offsetof as compiled from
 * bpf/include/http_tracer.h, and src/capture/abi.ts must match it exactly.
 * The header itself is checked by parsing its struct, so a field added in C
 * but forgotten in both the addon and the decoder fails here too.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ExchangeOffsets, EXCHANGE_SIZE, layoutDifferences, verifyLayout, type AddonLayout } from '../../src/capture/abi';
import { loadAddon } from '../../src/capture/addon-load';

const header = fs.readFileSync(path.join(__dirname, '..', '..', 'bpf', 'include', 'http_tracer.h'), 'utf8');

t.test('the addon layout equals the decoder layout', async (t) => {
  const layout = loadAddon().layout();
  t.same(layoutDifferences(layout), []);
  t.doesNotThrow(() => verifyLayout(layout));
});

t.test('every field of struct ht_exchange in the header is known to the decoder', async (t) => {
  const body = /struct ht_exchange \{([\s\S]*?)\n\};/.exec(header)?.[1];
  t.ok(body, 'struct ht_exchange found');
  const fields = [...(body ?? '').matchAll(/^\s*(?:__u8|__u16|__u32|__u64|char)\s+(\w+)/gm)].map((m) => m[1]).filter((f) => !f.startsWith('_pad'));
  t.same(fields, Object.keys(ExchangeOffsets));
  const size = /sizeof\(struct ht_exchange\) == (\d+)/.exec(header)?.[1];
  t.equal(Number(size), EXCHANGE_SIZE, 'the header asserts the same size');
});

t.test('a mismatch is reported field by field and refused', async (t) => {
  const layout = loadAddon().layout();
  const broken: AddonLayout = { ...layout, exchange: { ...layout.exchange, fields: { ...layout.exchange.fields, status: 21 } } };
  t.same(layoutDifferences(broken), ['offset of status: decoder 20, addon 21']);
  t.throws(() => verifyLayout(broken), { code: 'HT_ERR_ABI_MISMATCH' });
});
