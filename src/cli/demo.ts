/**
 * `demo` (and, until the dashboard lands, `run`): the bundled demo service
 * and its load as child processes, traced like any other process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { traceCommand, type Io } from './trace';
import type { ParsedCaptureValues } from './options';

export const DEMO_PORT = 8090;

function child(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(__dirname, '..', 'demo', script), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function demoCommand(values: ParsedCaptureValues, io: Io): Promise<number> {
  const service = child('service.js', [String(DEMO_PORT)]);
  let load: ChildProcess | undefined;
  try {
    // The timer fires once traceCommand's synchronous load and attach are done,
    // so the first requests are already seen.
    setTimeout(() => (load = child('load.js', [String(DEMO_PORT), '20'])), 100);
    io.stderr.write(`demo: service on 127.0.0.1:${DEMO_PORT}, load about 20 requests/s\n`);
    return await traceCommand(values, io);
  } finally {
    load?.kill();
    service.kill();
  }
}
