#!/usr/bin/env node
'use strict';
/**
 * npm's install script. When an addon for this machine loads (the prebuilt
 * one the package ships in prebuilds/, or an earlier build in build/Release),
 * there is nothing to do. Otherwise it builds one from source (make -C bpf,
 * then node-gyp rebuild), after checking that what the build needs is here,
 * and fails the install naming what is missing if it is not.
 *
 * Why fail rather than warn: without the addon the package cannot capture
 * anything (`check`, `trace`, `run` all stop at loading it), and npm shows an
 * install script's output only when it fails, so a warning would go unseen
 * and the user would learn of it later, on `http-tracer run`, further from
 * the cause.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function say(line) {
  process.stderr.write(`ebpf-http-tracer: ${line}\n`);
}

/** The addon that loads here, or the reason none does. */
function loadableAddon() {
  try {
    const file = require('node-gyp-build').path(root);
    require(file);
    return { file };
  } catch (err) {
    return { reason: err.message.trim().split('\n')[0] };
  }
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Whether the C++ compiler finds a header (#include <name>). */
function hasHeader(compiler, name) {
  try {
    execFileSync(compiler, ['-E', '-x', 'c++', '-'], { input: `#include <${name}>\n`, stdio: ['pipe', 'ignore', 'ignore'] });
    return true;
  } catch {
    return false;
  }
}

/** What the build from source needs and is not here, each with the Debian/Ubuntu package that brings it. */
function missingForSourceBuild() {
  const missing = [];
  const compiler = process.env.CXX || 'g++';
  for (const [command, pkg] of [
    ['clang', 'clang'],
    ['bpftool', 'bpftool (Ubuntu: linux-tools-common and linux-tools-$(uname -r))'],
    ['make', 'make'],
    [compiler, 'g++'],
    ['python3', 'python3'],
  ]) {
    if (!onPath(command)) missing.push(`${command} (${pkg})`);
  }
  if (onPath(compiler)) {
    for (const [header, pkg] of [
      ['bpf/libbpf.h', 'libbpf-dev'],
      ['libelf.h', 'libelf-dev'],
      ['zlib.h', 'zlib1g-dev'],
    ]) {
      if (!hasHeader(compiler, header)) missing.push(`<${header}> (${pkg})`);
    }
  }
  if (!fs.existsSync('/sys/kernel/btf/vmlinux')) missing.push('/sys/kernel/btf/vmlinux (a kernel built with CONFIG_DEBUG_INFO_BTF)');
  return missing;
}

function run(command, args) {
  say(`${command} ${args.join(' ')}`);
  const r = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    say(`${command} ${args.join(' ')} failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
}

function main() {
  const found = loadableAddon();
  if (found.file) return;

  say(`no prebuilt addon loads on ${process.platform}-${process.arch} (${found.reason}); building it from source`);
  const missing = missingForSourceBuild();
  if (missing.length) {
    say(`cannot build the addon from source; missing:\n  ${missing.join('\n  ')}`);
    say('install these (Debian/Ubuntu package names in parentheses), then run the install again, or "npm rebuild ebpf-http-tracer" (with -g for a global install)');
    process.exit(1);
  }
  run('make', ['-C', 'bpf']);
  // npm runs install scripts with its own node-gyp on PATH and names it in npm_config_node_gyp.
  const nodeGyp = process.env.npm_config_node_gyp;
  if (nodeGyp) run(process.execPath, [nodeGyp, 'rebuild']);
  else run('node-gyp', ['rebuild']);

  const built = loadableAddon();
  if (!built.file) {
    say(`the addon was built but does not load: ${built.reason}`);
    process.exit(1);
  }
  say(`built ${path.relative(root, built.file)}`);
}

main();
