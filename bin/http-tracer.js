#!/usr/bin/env node
'use strict';
const { cli } = require('../dist/cli/main.js');

cli(process.argv.slice(2)).then((code) => process.exit(code));
