/**
 * The bundled demo service: a small shop API with realistic variety (fast
 * and slow routes, ids in paths, client errors, server errors). Run as its own
 * process, because the agent never traces itself.
 *
 *   node dist/demo/service.js PORT
 */
import http from 'node:http';

const users = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, name: `user-${i + 1}` }));

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://demo');
  const userMatch = /^\/api\/users\/(\d+)$/.exec(url.pathname);
  if (req.method === 'GET' && url.pathname === '/api/users') return send(res, 200, users.slice(0, 10));
  if (req.method === 'GET' && userMatch) {
    const user = users.find((u) => u.id === Number(userMatch[1]));
    return user ? send(res, 200, user) : send(res, 404, { error: 'no such user' });
  }
  if (req.method === 'POST' && url.pathname === '/api/orders') {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => setTimeout(() => send(res, 201, { id: Date.now(), bytes: size }), 20 + Math.random() * 30));
    return;
  }
  if (req.method === 'GET' && url.pathname === '/api/search') {
    // Slow route: 50-250 ms, and a streamed (chunked) response.
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      res.end(`"${url.searchParams.get('q') ?? ''}"]`);
    }, 50 + Math.random() * 200);
    return;
  }
  if (url.pathname === '/api/checkout') return send(res, 503, { error: 'payment backend unavailable' });
  if (url.pathname === '/health') return send(res, 200, { status: 'ok' });
  send(res, 404, { error: 'not found' });
}

const port = Number(process.argv[2] ?? 8090);
http.createServer(handle).listen(port, '127.0.0.1', () => process.stdout.write(`demo service on 127.0.0.1:${port}\n`));
