#!/usr/bin/env node
// The `ccs` bin: wires the process to runCli (commands.ts holds the logic and is tested).
import { constants } from 'node:os';
import { runCli } from './commands.js';

// A reader that goes away (`ccs … | head -1`) must not crash the command with an unhandled
// EPIPE: the lines have nowhere to go, and the command still finishes its work and exits normally.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`ccs: stdout: ${err.message}\n`);
});

const controller = new AbortController();
// The first SIGINT/SIGTERM asks the command to stop (it closes what it can within about a second
// and reports what was not answered); a second one exits at once, with the shell's 128 + signal.
const onSignal = (signal: NodeJS.Signals): void => {
  if (!controller.signal.aborted) {
    controller.abort();
    return;
  }
  process.exit(128 + (constants.signals[signal] ?? 15));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await runCli({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
process.removeListener('SIGINT', onSignal);
process.removeListener('SIGTERM', onSignal);
process.exitCode = code;
