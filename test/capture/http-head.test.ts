import t from 'tap';
import { parseRequestHead, targetPath } from '../../src/capture/http-head';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

t.test('method, target and host of a whole head', async (t) => {
  t.same(parseRequestHead(b('POST /api/orders?id=7 HTTP/1.1\r\nContent-Type: x\r\nhOsT:  shop.local:8080 \r\n\r\n')), {
    method: 'POST',
    target: '/api/orders?id=7',
    host: 'shop.local:8080',
  });
});

t.test('a head cut in the start line keeps the part of the target it has', async (t) => {
  t.same(parseRequestHead(b('GET /a/very/long/pa')), { method: 'GET', target: '/a/very/long/pa', host: undefined });
});

t.test('a head cut inside the Host line reports no host', async (t) => {
  t.same(parseRequestHead(b('GET / HTTP/1.1\r\nHost: exa')), { method: 'GET', target: '/', host: undefined });
});

t.test('headers end before a Host: none', async (t) => {
  t.same(parseRequestHead(b('GET / HTTP/1.0\r\n\r\nHost: body')), { method: 'GET', target: '/', host: undefined });
});

t.test('no method', async (t) => {
  t.equal(parseRequestHead(b('')), undefined);
  t.equal(parseRequestHead(b(' GET /')), undefined);
  t.equal(parseRequestHead(b('GARBAGE')), undefined);
});

t.test('targetPath drops query and fragment and takes the path of absolute form', async (t) => {
  t.equal(targetPath('/a/b?c=d'), '/a/b');
  t.equal(targetPath('/a#frag'), '/a');
  t.equal(targetPath('http://proxy.local:3128/x/y?z'), '/x/y');
  t.equal(targetPath('http://proxy.local'), '/');
  t.equal(targetPath('*'), '*');
});
