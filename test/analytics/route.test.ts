import t from 'tap';
import { isIdentifier, RoutePattern, RouteTemplater, ROUTE_MAX_LENGTH } from '../../src/analytics/route';

t.test('identifiers become {id}; words stay', async (t) => {
  const r = new RouteTemplater();
  const cases: [string, string][] = [
    ['/users/42', '/users/{id}'],
    ['/users/42/orders/7?expand=1', '/users/{id}/orders/{id}'],
    ['/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301', '/items/{id}'],
    ['/commits/9fceb02d0ae598e95dc970b74767f19372d61af8', '/commits/{id}'],
    ['/s/AbCdEfGhIjKlMnOpQrSt12345', '/s/{id}'],
    ['/api/v2/health', '/api/v2/health'],
    ['/static/app.js', '/static/app.js'],
    ['/deadbeef', '/deadbeef'],
    ['/', '/'],
    ['', '/'],
    ['?only=query', '/'],
    ['*', '*'],
    ['/a//b/', '/a//b/'],
  ];
  for (const [path, route] of cases) t.equal(r.route(path), route, path);
});

t.test('isIdentifier', async (t) => {
  for (const id of ['0', '123456', 'DEADBEEF1', 'a1b2c3d4', '550e8400-e29b-41d4-a716-446655440000']) t.ok(isIdentifier(id), id);
  for (const word of ['users', 'v2', 'deadbeef', 'abcdef', 'this-is-a-long-slug-without-digits', 'index.html']) t.notOk(isIdentifier(word), word);
});

t.test('user patterns come first', async (t) => {
  const r = new RouteTemplater(['/orders/:orderId/items', '/files/*', '/users/{name}']);
  t.equal(r.route('/orders/A-17/items'), '/orders/:orderId/items');
  t.equal(r.route('/orders/A-17/items/3'), '/orders/A-17/items/{id}', 'longer paths do not match');
  t.equal(r.route('/files/a/b/c.txt'), '/files/*');
  t.equal(r.route('/files'), '/files/*');
  t.equal(r.route('/users/alice'), '/users/{name}');
  t.equal(r.route('/other/12'), '/other/{id}');
});

t.test('bad patterns are refused with the reason', async (t) => {
  t.throws(() => new RoutePattern('users/:id'), { message: 'route pattern "users/:id": must start with "/"' });
  t.throws(() => new RoutePattern('/a/*/b'), { message: 'route pattern "/a/*/b": "*" only as the last segment' });
});

t.test('routes are bounded', async (t) => {
  const long = '/' + Array.from({ length: 200 }, (_, i) => `seg${'x'.repeat(i % 7)}`).join('/');
  t.equal(new RouteTemplater().route(long).length, ROUTE_MAX_LENGTH);
});

t.test('redaction patterns apply to the route: secrets in path segments never become a label', async (t) => {
  const r = new RouteTemplater(['/orders/:id'], ['(?<=/invite/)[^/]+', 'alice@example\\.com']);
  t.equal(r.route('/invite/welcome-friend/accept?code=1'), '/invite/{redacted}/accept');
  t.equal(r.route('/users/alice@example.com/profile'), '/users/{redacted}/profile');
  t.equal(r.route('/orders/7'), '/orders/:id', 'a user route pattern is the user\'s own string');
  t.equal(r.route('/plain/path'), '/plain/path');
  t.throws(() => new RouteTemplater([], ['(']), /redact pattern "\(":/);
});

t.test('an absolute-form target (to a proxy) gives the route of its path: no scheme, host or userinfo', async (t) => {
  const r = new RouteTemplater();
  t.equal(r.route('http://user:pass@host:8080/x/42?y=1'), '/x/{id}');
  t.equal(r.route('https://example.com'), '/');
});
