#!/usr/bin/env node
'use strict';

let main;
try {
  ({ main } = require('../dist/src/cli/main.js'));
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    // A checkout that was never built: npm ci (or npm install) builds it through "prepare".
    process.stderr.write('warren: the compiled code (dist/) is missing; run `npm run build` in the warren package first\n');
    process.exit(1);
  }
  throw err;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`warren: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
