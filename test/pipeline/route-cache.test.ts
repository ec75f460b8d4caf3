import t from 'tap';
import { RouteTemplater } from '../../src/analytics/route';
import { RouteCache } from '../../src/pipeline/route-cache';

const cache = (max = 100) => new RouteCache(new RouteTemplater(['/orders/:id/items']), max);
const head = (s: string) => Buffer.from(s, 'latin1');

t.test('routes from request head bytes', async (t) => {
  const c = cache();
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
  for (const [h, start, route] of cases) t.equal(c.route(head(h), start), route, JSON.stringify(h));
});

t.test('a path seen before is found by its bytes; the cache is bounded', async (t) => {
  const c = cache(3);
  const a = c.route(head('GET /x/1 HTTP/1.1'), 4);
  t.equal(c.route(head('GET /x/1 HTTP/1.1'), 4), a);
  t.equal(c.route(head('GET /x/2 HTTP/1.1'), 4), '/x/{id}', 'a different path is templated, not confused with a cached one');
  for (let i = 0; i < 100; i++) t.equal(c.route(head(`GET /y/${i}abc HTTP/1.1`), 4), `/y/${i}abc`);
  t.equal(c.route(head('GET /x/1 HTTP/1.1'), 4), '/x/{id}', 'still right after the cache started over');
});
