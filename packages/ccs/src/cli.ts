#!/usr/bin/env node
// The `ccs` bin: wires the process to runCli (commands.ts holds the logic and is tested).
import { runCli } from './commands.js';

const controller = new AbortController();
const stop = (): void => controller.abort();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

const code = await runCli({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
process.removeListener('SIGINT', stop);
process.removeListener('SIGTERM', stop);
process.exitCode = code;
