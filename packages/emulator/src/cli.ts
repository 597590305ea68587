#!/usr/bin/env node
/**
 * `ccs-emulator`: wires `runCommand` to the process. Everything else lives in command.ts, which is
 * tested in process; this file only owns argv, env, stdout and the signals.
 */
import { runCommand, type RunningCommand } from './command.js';
import { runExec } from './exec.js';

// `ccs-emulator --port 0 | head -1` (read the JSON line, then let the reader go) must not crash
// the server with an unhandled EPIPE: it keeps serving, and the lines have nowhere to go.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`ccs-emulator: stdout: ${err.message}\n`);
});

try {
  if (process.argv[2] === 'exec') {
    process.exitCode = await runExec(process.argv.slice(3), {
      env: process.env,
      err: (line) => process.stderr.write(`${line}\n`),
      onSignal: (handler) => {
        const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
        for (const s of signals) process.on(s, handler);
        return () => {
          for (const s of signals) process.off(s, handler);
        };
      },
    });
  } else await serve();
} catch (err) {
  process.stderr.write(`ccs-emulator: ${(err as Error).message}\n`);
  process.exitCode = 2;
}

async function serve(): Promise<void> {
  // The handlers go in before the listening line is printed: a supervisor that sends SIGTERM as
  // soon as it reads that line must get a clean stop (and the ledger line), not a default kill.
  let running: RunningCommand | undefined;
  let stopRequested = false;
  let drainRequested = false;
  const stop = (): void => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (running) stopRunning(running);
    else stopRequested = true;
  };
  // CONNECTION_DRAINING on demand, for developing an app server against the CLI.
  const drain = (): void => {
    if (!running) {
      drainRequested = true;
      return;
    }
    const n = running.emulator.drain();
    process.stdout.write(`${JSON.stringify({ type: 'drain-requested', connections: n })}\n`);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGUSR2', drain);
  try {
    running = await runCommand(process.argv.slice(2), {
      env: process.env,
      out: (line) => process.stdout.write(`${line}\n`),
    });
  } finally {
    if (!running) {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGUSR2', drain);
    }
  }
  if (!running) return;
  if (stopRequested) stopRunning(running);
  else if (drainRequested) drain();
}

function stopRunning(running: RunningCommand): void {
  running.stop().catch((err: unknown) => {
    process.stderr.write(`ccs-emulator: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
