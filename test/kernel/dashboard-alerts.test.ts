/**
 * The dashboard's alert panel in headless Chromium (Debian's, driven by
 * playwright-core), with real eBPF: the page is open before anything goes
 * wrong; a Node server starts answering 5xx; the alert_triggered frame
 * arrives on the page's WebSocket and the panel shows the firing alert and
 * its incident; the acknowledge and silence buttons act through the API.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { chromium } from 'playwright-core';
import { agentProcess, freePort, kernelSkipReason, nodeClient, nodeServer, sleep, stopChild, type PlannedRequest } from '../helpers/kernel';

t.test('the dashboard shows a firing alert live, and acknowledges and silences its incident', { skip: kernelSkipReason() }, async (t) => {
  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  t.saveFixture = true; // keep the screenshot: .tap/fixtures/<this test>/
  const dir = t.testdir({});
  const config = path.join(dir, 'config.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      output: {
        analytics: {
          flush_interval_seconds: 1,
          alert_rules: [{ name: 'node_errors', metric: 'error_rate', condition: 'gt', threshold: 0.5, duration_seconds: 0, window: '30s', match: { side: 'server' }, labels: { severity: 'critical' } }],
        },
      },
    }),
  );
  const { child: agent, url, stderr } = await agentProcess('run', ['--port', String(serverPort), '--config', config], await freePort());
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  let traffic = true;
  let load: Promise<void> | undefined;
  t.teardown(async () => {
    traffic = false;
    await load;
    await browser.close();
    await stopChild(agent);
    await stopChild(server);
  });

  const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  const frames: string[] = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => typeof f.payload === 'string' && f.payload.startsWith('{"type":"alert_') && frames.push(f.payload)));
  await page.goto(`${url}/`);
  // The panel is filled by the first /api/alerts answer.
  await page.waitForFunction(() => document.getElementById('active-alerts')?.textContent?.includes('no active alerts'), undefined, { timeout: 10_000 });
  t.equal(await page.textContent('#alert-count'), '0 firing', 'nothing wrong yet');

  const plan: PlannedRequest[] = Array.from({ length: 5 }, () => ({ method: 'GET', path: '/fail' }));
  load = (async () => {
    while (traffic) {
      await nodeClient(serverPort, true, plan);
      await sleep(200);
    }
  })();
  await page.waitForFunction(() => document.getElementById('alert-count')?.textContent === '1 firing', undefined, { timeout: 20_000 }).catch((e: Error) => {
    throw new Error(`${e.message}; agent: ${stderr()}`);
  });
  t.ok(
    frames.some((f) => JSON.parse(f).type === 'alert_triggered'),
    'the page heard alert_triggered on its WebSocket',
  );
  const row = page.locator('#active-alerts tr', { hasText: 'node_errors' });
  t.match(await row.textContent(), new RegExp(`critical.*node_errors.*service=node:${serverPort}.*firing`), 'the firing alert, its severity and service');

  const incident = page.locator('#incidents tr[data-incident]');
  await incident.first().waitFor({ timeout: 10_000 });
  t.equal(await incident.count(), 1, 'one incident');
  const id = (await incident.getAttribute('data-incident'))!;
  t.match(await incident.locator('td.status').textContent(), /^open$/);

  await incident.getByRole('button', { name: 'acknowledge' }).click();
  await page.waitForFunction((i) => document.querySelector(`#incidents tr[data-incident="${i}"] td.status`)?.textContent?.startsWith('acknowledged'), id, { timeout: 10_000 });
  const acked = (await (await fetch(`${url}/api/incidents/${id}`)).json()) as { status: string; acknowledged_by: string };
  t.same([acked.status, acked.acknowledged_by], ['acknowledged', 'dashboard'], 'acknowledged through the API, by the dashboard');

  await page.locator(`#incidents tr[data-incident="${id}"]`).getByRole('button', { name: 'silence 1h' }).click();
  await page.waitForFunction((i) => document.querySelector(`#incidents tr[data-incident="${i}"] td.status`)?.textContent?.includes('silenced until'), id, { timeout: 10_000 });
  const silenced = (await (await fetch(`${url}/api/incidents/${id}`)).json()) as { silenced: boolean; silenced_until: string };
  t.equal(silenced.silenced, true);
  const hours = (Date.parse(silenced.silenced_until) - Date.now()) / 3_600_000;
  t.ok(hours > 0.95 && hours <= 1, `silenced for an hour (${hours.toFixed(3)} h left)`);
  t.equal(await page.textContent('#incident-error'), '', 'no error shown');

  await page.screenshot({ path: path.join(dir, 'dashboard-alerts.png'), fullPage: true });
  t.same(pageErrors, [], 'no errors in the page');
});
