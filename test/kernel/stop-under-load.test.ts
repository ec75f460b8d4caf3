/**
 * Stopping while traffic flows: capture is switched off in every program at
 * once before any is detached, so the stop itself reports no loss and no
 * abort — before, read probes went before write probes and thousands of
 * responses were counted as without request.
 */
import { spawn } from 'node:child_process';
import t from 'tap';
import { startNginx } from '../helpers/nginx';
import { freePort, kernelSkipReason, Recorder, sleep } from '../helpers/kernel';

t.test('stop under load: no false losses, no aborts', { skip: kernelSkipReason() }, async (t) => {
  const port = await freePort();
  const nginx = await startNginx(port, { 'index.html': 'hello\n' });
  t.teardown(() => nginx.stop());

  for (let round = 0; round < 3; round++) {
    const recorder = new Recorder({ ports: { allow: [port] } });
    const wrk = spawn('wrk', ['-t1', '-c32', '-d3s', `http://127.0.0.1:${port}/index.html`], { stdio: 'ignore' });
    const wrkDone = new Promise((r) => wrk.once('exit', r));
    await recorder.waitFor((all) => all.length > 2000, 10_000);
    await recorder.stop(); // wrk still running
    const stats = recorder.capture.stats();
    t.equal(stats.lost.total, 0, `round ${round}: nothing lost at stop: ${JSON.stringify(stats.lost.byReason)}`);
    t.equal(recorder.exchanges.filter((e) => e.aborted).length, 0, `round ${round}: no exchange aborted by the stop`);
    t.equal(stats.kernel.exchanges, recorder.exchanges.length, `round ${round}: every exchange framed was delivered`);
    await wrkDone;
    await sleep(100);
  }
});
