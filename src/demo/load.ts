/**
 * Load for the demo service: a steady mix of requests over keep-alive
 * connections, about RATE per second, until killed.
 *
 *   node dist/demo/load.js PORT [RATE]
 */
import http from 'node:http';

const port = Number(process.argv[2] ?? 8090);
const rate = Number(process.argv[3] ?? 20);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

const routes: { weight: number; method: string; path: () => string; body?: string }[] = [
  { weight: 30, method: 'GET', path: () => '/api/users' },
  { weight: 30, method: 'GET', path: () => `/api/users/${1 + Math.floor(Math.random() * 60)}` },
  { weight: 15, method: 'POST', path: () => '/api/orders', body: JSON.stringify({ item: 'book', qty: 1 }) },
  { weight: 10, method: 'GET', path: () => `/api/search?q=term${Math.floor(Math.random() * 5)}` },
  { weight: 5, method: 'POST', path: () => '/api/checkout', body: '{}' },
  { weight: 10, method: 'GET', path: () => '/health' },
];
const total = routes.reduce((a, r) => a + r.weight, 0);

function pick(): (typeof routes)[number] {
  let n = Math.random() * total;
  for (const r of routes) if ((n -= r.weight) < 0) return r;
  return routes[0];
}

function fire(): void {
  const route = pick();
  const req = http.request({ host: '127.0.0.1', port, method: route.method, path: route.path(), agent }, (res) => res.resume());
  req.on('error', () => {});
  req.end(route.body);
}

setInterval(fire, 1000 / rate);
