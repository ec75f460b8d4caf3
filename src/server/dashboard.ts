/**
 * The dashboard: a page, its script and style (dashboard/), and uPlot from
 * node_modules, all served by the agent itself (no CDN: it works offline),
 * read once at start-up. A Content-Security-Policy keeps the page to its own
 * scripts, so a captured string can never run as code.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { packageRoot } from '../package-root';

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'";

/** Every path the dashboard serves (the metrics path must not take one). */
export const DASHBOARD_PATHS = ['/', '/favicon.ico', '/assets/app.js', '/assets/style.css', '/assets/uplot.js', '/assets/uplot.css'];

export function registerDashboard(app: FastifyInstance): void {
  const root = packageRoot(__dirname);
  const uplot = path.join(path.dirname(require.resolve('uplot')), '..', 'dist');
  const assets: Record<string, { file: string; type: string }> = {
    '/': { file: path.join(root, 'dashboard', 'index.html'), type: 'text/html; charset=utf-8' },
    '/assets/app.js': { file: path.join(root, 'dashboard', 'app.js'), type: 'text/javascript; charset=utf-8' },
    '/assets/style.css': { file: path.join(root, 'dashboard', 'style.css'), type: 'text/css; charset=utf-8' },
    '/assets/uplot.js': { file: path.join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
    '/assets/uplot.css': { file: path.join(uplot, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
  };
  for (const [url, { file, type }] of Object.entries(assets)) {
    const body = fs.readFileSync(file);
    app.get(url, async (_req, reply) => {
      reply.type(type).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache');
      return body;
    });
  }
}
