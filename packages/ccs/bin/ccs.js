#!/usr/bin/env node
// The `ccs` bin. It exists before any build, so that `npm install` links it on a fresh clone (npm
// skips a bin whose file is missing); the CLI itself is compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('ccs: not built yet: run `npm run build` (or `npm start` / `npm test`) in the repository first\n');
  process.exit(2);
}
await import(cli.href);
