import t from 'tap';
import { RouteTemplater } from '../../src/analytics/route';
import { RouteCache } from '../../src/pipeline/route-cache';
import { random } from '../helpers/streams';

const PATTERNS = ['/orders/:id/items'];
const routeOf = (c: RouteCache, h: string, targetStart: number): string => {
  // The head sits inside a larger buffer, as in a batch.
  const bytes = Buffer.from(`xxxx${h}yyyy`, 'latin1');
  return c.route(bytes, 4, 4 + h.length, targetStart < 0 ? -1 : 4 + targetStart);
};

t.test('routes from request head bytes', async (t) => {
  const c = new RouteCache(PATTERNS, [], 100);
  const cases: [string, number, string][] = [
    ['GET /users/42 HTTP/1.1\r\n', 4, '/users/{id}'],
    ['GET /users/42?full=1 HTTP/1.1\r\n', 4, '/users/{id}'],
    ['GET /a/b#frag HTTP/1.1\r\n', 4, '/a/b'],
    ['POST /orders/9/items HTTP/1.1\r\n', 5, '/orders/:id/items'],
    ['GET http://shop.local:8080/users/7?x HTTP/1.1\r\n', 4, '/users/{id}'],
    ['OPTIONS * HTTP/1.1\r\n', 8, '*'],
    ['GET /cut-off-by-the-captu', 4, '/cut-off-by-the-captu'],
    ['GET  HTTP/1.1\r\n', 4, ''],
    ['', -1, ''],
    ['BREW /pot/1 HTTP/1.1\r\n', -1, '/pot/{id}'],
    ['garbage-without-space', -1, ''],
  ];
  for (const [h, start, route] of cases) t.equal(routeOf(c, h, start), route, JSON.stringify(h));
});

t.test('paths of one shape share a cache entry; the cache is bounded and stays right', async (t) => {
  const c = new RouteCache(PATTERNS, [], 3);
  for (let i = 0; i < 100; i++) t.equal(routeOf(c, `GET /x/${i} HTTP/1.1`, 4), '/x/{id}');
  for (let i = 0; i < 100; i++) t.equal(routeOf(c, `GET /y/a${'b'.repeat(i % 5)} HTTP/1.1`, 4), `/y/a${'b'.repeat(i % 5)}`);
  t.equal(routeOf(c, 'GET /x/1 HTTP/1.1', 4), '/x/{id}', 'still right after the cache started over');
});

t.test('a pattern with an identifier as a literal segment: every path is templated on its own', async (t) => {
  const c = new RouteCache(["/v1/2024/:id"], [], 100);
  t.equal(routeOf(c, 'GET /v1/2024/7 HTTP/1.1', 4), '/v1/2024/:id');
  t.equal(routeOf(c, 'GET /v1/2025/7 HTTP/1.1', 4), '/v1/{id}/{id}', 'same shape, not the pattern');
});

t.test('property: the same routes as RouteTemplater on random paths (numbers, UUIDs, hex, tokens, words)', async (t) => {
  const rnd = random(42);
  const alphabet = 'abcdefABCDEF0123456789-_xyz.~%';
  const segment = (): string => {
    const kind = rnd();
    if (kind < 0.2) return String(Math.floor(rnd() * 1e9));
    if (kind < 0.3) return '3f2a1b2c-1b2c-4d5e-8f90-a1b2c3d4e5f6'.replace(/[0-9a-f]/g, () => '0123456789abcdef'[Math.floor(rnd() * 16)]);
    const n = Math.floor(rnd() * 30);
    return Array.from({ length: n }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
  };
  const templater = new RouteTemplater(PATTERNS);
  const c = new RouteCache(PATTERNS, [], 64);
  let agree = 0;
  const N = 20_000;
  for (let i = 0; i < N; i++) {
    const segments = Array.from({ length: 1 + Math.floor(rnd() * 5) }, segment);
    const path = '/' + segments.join('/');
    if (routeOf(c, `GET ${path} HTTP/1.1`, 4) === templater.route(path)) agree++;
  }
  t.equal(agree, N, 'every route equal');
});
