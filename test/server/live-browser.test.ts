/**
 * The live stream from a real browser (Debian's Chromium, driven by
 * playwright-core): a page on another origin cannot open the agent's
 * WebSocket (refused before the upgrade), while the agent's own dashboard
 * asks for the API token once, keeps it for the tab, and then gets live
 * numbers over the WebSocket (subprotocol bearer.<token>) and REST
 * (Authorization) with reads protected.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { chromium } from 'playwright-core';
import { records, startLive } from '../helpers/live';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'browser-test-token-0123456789abcdef';

/** Another site: a blank page on another port of the same machine. */
async function otherOrigin(t: Test): Promise<string> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test('in Chromium: another origin is refused; the dashboard asks for the token once and goes live', { skip: process.env.CI === 'true' || fs.existsSync(CHROMIUM) ? false : `needs ${CHROMIUM} (bash scripts/setup.sh installs it; under CI=true this test always runs)` }, async (t) => {
  const { hub, http: url } = await startLive(t, {}, records(10), { token: TOKEN, allowedOrigins: [], redactPatterns: [] }, { dashboard: true, security: { token: TOKEN, protectReads: true } });
  const elsewhere = await otherOrigin(t);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());

  const evil = await browser.newPage();
  await evil.goto(elsewhere);
  const attempt = (protocols: string[]) =>
    evil.evaluate(
      ([target, p]) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(target, p);
          ws.onopen = () => resolve('opened');
          ws.onclose = () => resolve('refused');
        }),
      [url.replace('http', 'ws') + '/ws/stolen', protocols] as const,
    );
  t.equal(await attempt([]), 'refused', 'a page elsewhere cannot open the stream');
  t.equal(await attempt([`bearer.${TOKEN}`]), 'refused', 'not even with the token: the origin is checked first');
  t.equal(hub.stats().rejectedOrigin, 2);

  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${url}/`);
  await page.waitForSelector('#token-form:not([hidden])', { timeout: 30_000 });
  t.match(await page.textContent('#token-reason'), /needs its API token|need the agent’s API token/, 'the page asks for the token');
  await page.fill('#token', TOKEN);
  await page.click('#token-form button');
  await page.waitForFunction(() => Number(document.getElementById('kpi-requests')?.textContent) === 10, undefined, { timeout: 30_000 });
  t.equal(await page.textContent('#kpi-requests'), '10', 'numbers from the agent');
  const deadline = Date.now() + 10_000;
  while (hub.stats().connections === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.equal(hub.stats().connections, 1, 'the live WebSocket is open (with the bearer.<token> subprotocol)');
  t.equal(await page.evaluate(() => sessionStorage.getItem('http-tracer-api-token')), TOKEN, 'kept for this tab');
  t.equal(await page.isHidden('#token-form'), true, 'and not asked again');
  t.same(pageErrors, [], 'no errors in the page');
});
