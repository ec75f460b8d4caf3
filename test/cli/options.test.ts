import t from 'tap';
import { Capture } from '../../src/capture/capture';
import { captureOptions, exchangeFilter } from '../../src/cli/options';

t.test('lists accept repeats and commas', async (t) => {
  const o = captureOptions({ port: ['80,443', '8080'], 'not-pid': ['12'] });
  t.same(o.ports, { allow: [80, 443, 8080], deny: undefined });
  t.same(o.pids, { allow: undefined, deny: [12] });
});

t.test('bad values name the option and the reason', async (t) => {
  t.throws(() => captureOptions({ port: ['http'] }), { code: 'HT_ERR_USAGE', message: '--port "http": expected an integer' });
  t.throws(() => captureOptions({ port: ['70000'] }), { code: 'HT_ERR_USAGE', message: '--port 70000: must be in [1, 65535]' });
  t.throws(() => captureOptions({ 'head-bytes': '1024' }), { code: 'HT_ERR_USAGE', message: '--head-bytes 1024: must be in [0, 512]' });
  t.throws(() => exchangeFilter({ status: ['6xx'] }), { code: 'HT_ERR_USAGE', message: /--status "6xx": expected one of 1xx, 2xx/ });
});

t.test('capture options are checked before anything is loaded', async (t) => {
  const cases: [object, RegExp][] = [
    [{ ringBufferBytes: 5000 }, /ringBufferBytes: 5000 must be a power of two/],
    [{ headBytes: 100 }, /headBytes: 100 must be a multiple of 8/],
    [{ ports: { allow: [80], deny: [81] } }, /ports: .* cannot both allow and deny/],
    [{ ports: { allow: Array.from({ length: 65 }, (_, i) => i + 1) } }, /ports: 65 entries: at most 64/],
    [{ pids: { deny: [0] } }, /pids\[0\]: 0 must be an integer in/],
    [{ exchangeTimeoutMs: -1 }, /exchangeTimeoutMs: -1 must be an integer/],
  ];
  for (const [options, message] of cases) {
    t.throws(() => Capture.start(options, () => t.fail('no batch')), { code: 'HT_ERR_OPTION', message });
  }
});

t.test('TLS capture: on by default; --no-tls or HTTP_TRACER_CAPTURE_TLS=false turns it off, the option over the variable', async (t) => {
  t.equal(captureOptions({}, {}).tls, undefined, 'left to Capture (default true)');
  t.equal(captureOptions({ 'no-tls': true }, {}).tls, false);
  t.equal(captureOptions({}, { HTTP_TRACER_CAPTURE_TLS: 'false' }).tls, false);
  t.equal(captureOptions({}, { HTTP_TRACER_CAPTURE_TLS: 'true' }).tls, true);
  t.equal(captureOptions({ 'no-tls': true }, { HTTP_TRACER_CAPTURE_TLS: 'true' }).tls, false, '--no-tls wins');
  t.throws(() => captureOptions({}, { HTTP_TRACER_CAPTURE_TLS: 'no' }), { code: 'HT_ERR_OPTION', message: /HTTP_TRACER_CAPTURE_TLS.*"no".*must be true or false/ });
});
