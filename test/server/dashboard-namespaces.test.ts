/**
 * The dashboard's namespace selector in a real browser (Debian's Chromium,
 * driven by playwright-core), on a port whose store holds two namespaces
 * that both run a service "api": the selector lists them, services read
 * "api (shop)", and choosing a namespace filters the numbers, the REST
 * queries and the live subscription. Without namespaces it stays hidden.
 */
import fs from 'node:fs';
import t, { type Test } from 'tap';
import { chromium, type Page } from 'playwright-core';
import { records, startLive, NOW } from '../helpers/live';
import { namespacedCells } from './namespaced-cells';

const CHROMIUM = '/usr/bin/chromium';
const skip = process.env.CI === 'true' || fs.existsSync(CHROMIUM) ? false : `needs ${CHROMIUM} (bash scripts/setup.sh installs it; under CI=true this test always runs)`;

async function open(t: Test, url: string): Promise<{ page: Page; errors: string[] }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${url}/`);
  return { page, errors };
}

const kpiRequests = (page: Page, n: number) => page.waitForFunction((x) => Number(document.getElementById('kpi-requests')?.textContent) === x, n, { timeout: 30_000 });
const options = (page: Page, select: string) => page.$$eval(`${select} option`, (os) => (os as HTMLOptionElement[]).filter((o) => !o.hidden).map((o) => o.textContent));

t.test('in Chromium: namespaces to choose from, services named with theirs, and the choice filters', { skip }, async (t) => {
  const { engine, http: url } = await startLive(t, {}, Buffer.alloc(0), undefined, { dashboard: true });
  engine.store.ingest(namespacedCells(NOW));
  const { page, errors } = await open(t, url);
  await kpiRequests(page, 7);
  await page.waitForSelector('#namespace-filter:not([hidden])', { timeout: 30_000 });
  t.strictSame(await options(page, '#namespace'), ['all namespaces', 'shop', 'billing', 'outside Kubernetes']);
  t.strictSame(await options(page, '#service'), ['all services', 'api (shop)', 'api (billing)', 'worker:9000']);

  const asked = page.waitForResponse((r) => r.url().includes('/api/metrics?') && r.url().includes('namespace=billing'));
  await page.selectOption('#namespace', 'billing');
  t.equal((await asked).status(), 200, 'the REST query carries the namespace');
  await kpiRequests(page, 2);
  t.strictSame(await options(page, '#service'), ['all services', 'api (billing)'], 'only that namespace\'s services');
  // The live update (every second, the same filters) must not put the other namespaces' numbers back.
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(await page.textContent('#kpi-requests'), '2', 'and the live subscription too');

  await page.selectOption('#namespace', '*');
  await kpiRequests(page, 7);
  const shopApi = page.waitForResponse((r) => r.url().includes('/api/series?') && r.url().includes('service=api') && r.url().includes('namespace=shop'));
  await page.selectOption('#service', { label: 'api (shop)' });
  t.equal((await shopApi).status(), 200, 'a service chosen: its namespace with it');
  await kpiRequests(page, 4);
  t.equal(await page.inputValue('#namespace'), 'shop', 'the namespace selector follows');
  t.strictSame(await page.$$eval('#top-routes tr td:first-child', (tds) => tds.map((td) => td.textContent)), ['api (shop)'], 'routes name the service with its namespace');
  t.strictSame(errors, [], 'no errors in the page');
});

t.test('in Chromium: without namespaces the selector stays hidden', { skip }, async (t) => {
  const { http: url } = await startLive(t, {}, records(10), undefined, { dashboard: true });
  const { page, errors } = await open(t, url);
  await kpiRequests(page, 10);
  t.equal(await page.isHidden('#namespace-filter'), true);
  t.strictSame(await options(page, '#service'), ['all services', 'api:8080']);
  t.strictSame(errors, [], 'no errors in the page');
});
