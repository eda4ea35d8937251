#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('finetune is not built: run `npm install` (it compiles with tsc) or `npm run build`.\n');
  process.exit(1);
}
require(entry)
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
    // tfjs backends may hold handles open; results are flushed, so leave.
    process.stdout.write('', () => process.exit(code));
  });
