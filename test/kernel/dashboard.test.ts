/**
 * The dashboard in headless Chromium (Debian's, driven by playwright-core)
 * while real traffic flows: numbers and charts update, the window selector
 * works, and a path with <script> in it is shown as text, never run.
 * Screenshots go to the test's output folder.
 */
import path from 'node:path';
import t from 'tap';
import { chromium } from 'playwright-core';
import { agentProcess, freePort, kernelSkipReason, nodeClient, nodeServer, sleep, stopChild, type PlannedRequest } from '../helpers/kernel';

const XSS = '/<script>window.__xss=1</script>';

t.test('the dashboard shows live traffic, safely', { skip: kernelSkipReason() }, async (t) => {
  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  const { child: agent, url } = await agentProcess('run', ['--port', String(serverPort)], await freePort());
  let traffic = true;
  const plan: PlannedRequest[] = [{ method: 'GET', path: '/hello' }, { method: 'GET', path: '/fail' }, { method: 'GET', path: XSS }, { method: 'GET', path: '/hello' }];
  const load = (async () => {
    while (traffic) {
      await nodeClient(serverPort, true, plan);
      await sleep(200);
    }
  })();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  t.teardown(async () => {
    traffic = false;
    await load;
    await browser.close();
    await stopChild(agent);
    await stopChild(server);
  });

  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  await page.goto(`${url}/`);

  const requests = async (): Promise<number> => Number(await page.textContent('#kpi-requests'));
  await page.waitForFunction(() => Number(document.getElementById('kpi-requests')?.textContent) > 0, undefined, { timeout: 15_000 });
  const before = await requests();
  await page.waitForFunction((n) => Number(document.getElementById('kpi-requests')?.textContent) > n, before, { timeout: 10_000 });
  t.ok((await requests()) > before, `the request count updates live (${before} → ${await requests()})`);
  t.equal(await page.textContent('#status'), 'healthy');
  await page.waitForFunction(() => document.querySelectorAll('.uplot canvas').length >= 3, undefined, { timeout: 10_000 });
  t.ok((await page.locator('.uplot canvas').count()) >= 3, 'three charts drawn');
  t.ok((await page.locator('#top-routes tr').count()) > 1, 'top routes listed');
  t.equal(await page.isHidden('#namespace-filter'), true, 'outside Kubernetes: no namespace selector');
  t.ok((await page.locator('#service option').count()) > 1, 'services to choose from');

  const oneMinute = page.waitForResponse((r) => r.url().includes('/api/metrics?') && r.url().includes('window=1m'));
  await page.click('#windows button[data-window="1m"]');
  t.equal((await oneMinute).status(), 200, 'the window selector asks for the 1m window');
  t.equal(await page.getAttribute('#windows button[data-window="1m"]', 'aria-pressed'), 'true');
  t.equal(await page.getAttribute('#windows button[data-window="5m"]', 'aria-pressed'), 'false');

  await page.waitForFunction((x) => document.body.innerText.includes(x), XSS, { timeout: 10_000 });
  t.ok((await page.getByText(XSS, { exact: false }).count()) > 0, 'the path with <script> is shown as text');
  t.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'and never runs');
  t.equal(await page.locator('script').count(), 2, 'no script element was added');

  t.saveFixture = true; // keep the screenshots: .tap/fixtures/<this test>/
  const dir = t.testdir();
  t.comment(`screenshots in ${dir}`);
  await page.screenshot({ path: path.join(dir, 'dashboard.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  // The layout follows the resize; if it never fits, the assertion below says how wide it stayed.
  await page.waitForFunction(() => document.documentElement.scrollWidth <= 390, undefined, { timeout: 10_000 }).catch(() => undefined);
  await page.screenshot({ path: path.join(dir, 'dashboard-phone.png'), fullPage: true });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  t.ok(width <= 390, `on a phone the page is no wider than the screen (${width} px)`);
  t.same(pageErrors, [], 'no errors in the page');
});
