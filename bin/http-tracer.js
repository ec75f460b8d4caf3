#!/usr/bin/env node
'use strict';
const { main, exitCodeFor } = require('../dist/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    const code = exitCodeFor(err);
    process.stderr.write(`http-tracer: ${err.message}\n${code === 2 ? 'run "http-tracer --help" for usage\n' : ''}`);
    process.exit(code);
  },
);
