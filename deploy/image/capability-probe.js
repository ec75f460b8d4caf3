#!/usr/bin/env node
// Runs inside the image (deploy/image/measure-capabilities.sh mounts it) and
// prints one JSON line: what the process holds, whether the agent's BPF
// programs load and attach — straight through the addon, past the agent's own
// preflight, so a refusal shows as the kernel's errno — and which
// /proc/<pid>/{cgroup,comm,exe,fd} of the given host pids it can read.
//
//   node capability-probe.js PID...
'use strict';
const fs = require('node:fs');

const ADDON = '/opt/ebpf-http-tracer/build/Release/http_tracer.node';
const status = fs.readFileSync('/proc/self/status', 'utf8');
const field = (name) => status.match(new RegExp(`^${name}:\\s*(\\S+)`, 'm'))?.[1];
const limits = fs.readFileSync('/proc/self/limits', 'utf8').match(/^Max locked memory\s+(\S+)\s+(\S+)/m);

const result = { capEff: field('CapEff'), seccomp: field('Seccomp'), memlock: limits ? `${limits[1]}/${limits[2]}` : undefined };
try {
  const addon = require(ADDON);
  // Capture.start()'s defaults (src/capture/capture.ts), no filters.
  const tracer = new addon.Tracer(
    { ringBufferBytes: 8 << 20, headBytes: 256, wakeupBytes: 65536, drainIntervalMs: 20, exchangeTimeoutMs: 120000, sweepIntervalMs: 1000, selfTgid: process.pid, portFilterMode: 0, ports: [], pidFilterMode: 0, pids: [] },
    () => tracer.release(),
  );
  const attach = tracer.start();
  const failed = attach.filter((a) => !a.attached);
  result.attach = `${attach.length - failed.length}/${attach.length}`;
  if (failed.length > 0) result.attachError = `${failed[0].target}: ${failed[0].error}`;
  tracer.stop().then(() => report());
} catch (err) {
  // The first line names the call and errno; the libbpf log tail follows (its first two lines name the step).
  const lines = String(err.message).split('\n');
  result.loadError = lines[0];
  result.libbpf = lines.filter((l) => l.startsWith('libbpf:')).slice(0, 2).join(' | ');
  report();
}

function report() {
  result.proc = {};
  for (const pid of process.argv.slice(2)) {
    const reads = {};
    for (const [name, read] of Object.entries({
      cgroup: (p) => fs.readFileSync(`${p}/cgroup`, 'utf8'),
      comm: (p) => fs.readFileSync(`${p}/comm`, 'utf8'),
      exe: (p) => fs.readlinkSync(`${p}/exe`),
      fd: (p) => fs.readdirSync(`${p}/fd`),
    })) {
      try {
        read(`/proc/${pid}`);
        reads[name] = 'ok';
      } catch (err) {
        reads[name] = err.code;
      }
    }
    result.proc[pid] = reads;
  }
  console.log(JSON.stringify(result));
}
