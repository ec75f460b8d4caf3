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
import { ExchangeOffsets, EXCHANGE_SIZE, layoutDifferences, TCP_EVENT_SIZE, TcpEventOffsets, TcpKinds, verifyLayout, type AddonLayout } from '../../src/capture/abi';
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

t.test('every field of struct ht_tcp_event and every enum ht_tcp_kind in the header is known to the decoder', async (t) => {
  const body = /struct ht_tcp_event \{([\s\S]*?)\n\};/.exec(header)?.[1];
  t.ok(body, 'struct ht_tcp_event found');
  const fields = [...(body ?? '').matchAll(/^\s*(?:__u8|__u16|__u32|__s32|__u64|char)\s+(\w+)/gm)].map((m) => m[1]).filter((f) => !f.startsWith('_pad'));
  t.same(fields, Object.keys(TcpEventOffsets));
  t.equal(Number(/sizeof\(struct ht_tcp_event\) == (\d+)/.exec(header)?.[1]), TCP_EVENT_SIZE, 'the header asserts the same size');
  const kinds = /enum ht_tcp_kind \{([\s\S]*?)\n\};/.exec(header)?.[1] ?? '';
  t.same(
    [...kinds.matchAll(/HT_TCP_(\w+) = (\d+)/g)].map((m) => Number(m[2])),
    Object.values(TcpKinds),
    'the same kinds, in the same order',
  );
});

t.test('a mismatch is reported field by field and refused', async (t) => {
  const layout = loadAddon().layout();
  const broken: AddonLayout = { ...layout, exchange: { ...layout.exchange, fields: { ...layout.exchange.fields, status: 21 } } };
  t.same(layoutDifferences(broken), ['offset of status: decoder 20, addon 21']);
  t.throws(() => verifyLayout(broken), { code: 'HT_ERR_ABI_MISMATCH' });
  const brokenTcp: AddonLayout = { ...layout, tcp: { ...layout.tcp, fields: { ...layout.tcp.fields, srtt_us: 60 }, kinds: { ...layout.tcp.kinds, close: 9 } } };
  t.same(layoutDifferences(brokenTcp), ['tcp event offset of srtt_us: decoder 56, addon 60', 'tcp kind close: decoder 4, addon 9']);
});
