#!/usr/bin/env node
// Writes deploy/seccomp/ebpf-http-tracer.json: the containers/podman default
// profile (Debian's golang-github-containers-common, /usr/share/containers/seccomp.json,
// installed with podman) with bpf and perf_event_open allowed unconditionally.
// The default allows those two only to CAP_SYS_ADMIN; the agent holds CAP_BPF
// and CAP_PERFMON instead, which the kernel checks itself. Nothing else changes.
//
//   node deploy/image/make-seccomp-profile.js [DEFAULT_PROFILE]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ADDED = ['bpf', 'perf_event_open'];
const source = process.argv[2] ?? '/usr/share/containers/seccomp.json';
const profile = JSON.parse(fs.readFileSync(source, 'utf8'));

// Take the two out of the CAP_SYS_ADMIN-only rules (allow with the cap, ENOSYS/EPERM without),
// so no conditional rule on them is left to conflict with the plain allow.
const syscalls = [];
for (const rule of profile.syscalls) {
  const names = rule.names.filter((n) => !ADDED.includes(n));
  if (names.length > 0) syscalls.push({ ...rule, names });
}
const at = syscalls.findIndex((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args?.length && !Object.keys(r.includes ?? {}).length && !Object.keys(r.excludes ?? {}).length);
syscalls.splice(at + 1, 0, {
  names: ADDED,
  action: 'SCMP_ACT_ALLOW',
  args: [],
  comment: `ebpf-http-tracer: added to the containers default profile (${source}); the kernel still requires CAP_BPF and CAP_PERFMON (deploy/image/make-seccomp-profile.js)`,
  includes: {},
  excludes: {},
});
const out = path.join(__dirname, '..', 'seccomp', 'ebpf-http-tracer.json');
fs.writeFileSync(out, `${JSON.stringify({ ...profile, syscalls }, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
