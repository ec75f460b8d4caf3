/** The kernel's per-program run statistics (kernel.bpf_stats_enabled), as the cost benches read them. */
import fs from 'node:fs';
import { run } from '../test/helpers/kernel';

const STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** One row of `bpftool -j prog show`; the run fields are there while statistics are on. */
export interface ProgInfo {
  id: number;
  name: string;
  run_time_ns?: number;
  run_cnt?: number;
}

export async function listPrograms(): Promise<ProgInfo[]> {
  return JSON.parse((await run('bpftool', ['-j', 'prog', 'show'])).stdout) as ProgInfo[];
}

/** Turns run statistics on; the function returned puts the setting back as it was. */
export function enableBpfStats(): () => void {
  const previous = fs.readFileSync(STATS, 'utf8').trim();
  fs.writeFileSync(STATS, '1');
  return () => fs.writeFileSync(STATS, previous);
}
