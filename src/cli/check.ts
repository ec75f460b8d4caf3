/**
 * `check`: can capture work here? Kernel, BTF, tracefs, privileges, then a
 * real load and attach of every probe. A table, and the fix in words for
 * whatever fails; exit code 1 when capture cannot work.
 */
import { Capture } from '../capture/capture';
import { loadAddon } from '../capture/addon-load';
import { preflight, type CheckResult } from '../capture/preflight';
import type { Io } from './trace';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

export async function checkCommand(json: boolean, io: Io): Promise<number> {
  const checks: CheckResult[] = [];
  const probes: { program: string; target: string; attached: boolean; error?: string }[] = [];
  let addonOk = true;
  try {
    checks.push(...preflight(loadAddon()));
  } catch (err) {
    addonOk = false;
    checks.push({ name: 'addon', ok: false, detail: (err as Error).message.split('\n')[0], fix: 'bash scripts/setup.sh' });
  }
  if (addonOk && checks.every((c) => c.ok)) {
    try {
      const capture = Capture.start({}, () => {});
      probes.push(...capture.attach);
      await capture.stop();
      const attached = probes.filter((p) => p.attached).length;
      checks.push({
        name: 'probes',
        ok: attached === probes.length,
        detail: `${attached}/${probes.length} attached`,
        fix: attached === probes.length ? undefined : 'see the probe table: a missing tracepoint means this kernel lacks that syscall',
      });
    } catch (err) {
      checks.push({ name: 'load', ok: false, detail: (err as Error).message.split('\n')[0], fix: 'see the message above; run with root on a kernel with BTF' });
    }
  }
  const ok = checks.every((c) => c.ok) && probes.some((p) => p.attached);
  if (json) {
    io.stdout.write(JSON.stringify({ ok, checks, probes }, null, 2) + '\n');
  } else {
    io.stdout.write(table([['CHECK', 'OK', 'DETAIL'], ...checks.map((c) => [c.name, c.ok ? 'yes' : 'NO', c.detail])]));
    if (probes.length) {
      io.stdout.write('\n' + table([['PROBE', 'TRACEPOINT', 'ATTACHED'], ...probes.map((p) => [p.program, p.target, p.attached ? 'yes' : `NO: ${p.error}`])]));
    }
    for (const c of checks.filter((c) => !c.ok)) io.stdout.write(`\nfix ${c.name}: ${c.fix}`);
    io.stdout.write(ok ? '\ncapture can run on this machine\n' : '\n\ncapture cannot run on this machine\n');
  }
  return ok ? 0 : 1;
}
