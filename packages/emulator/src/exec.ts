/**
 * `ccs-emulator exec [options] -- COMMAND [ARGS…]`: the emulator for one command, the way
 * `firebase emulators:exec` runs a test suite. The command finds the emulator through its
 * environment (`CCS_HOST`, `CCS_PORT`, `CCS_CA_FILE`, `CCS_SENDER_ID`, `CCS_API_KEY`,
 * `CCS_EMULATOR_ADMIN_URL`), the emulator stops when it exits, the ledger totals go to stderr and
 * the exit status is the command's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { emulatorFor, parseCommandLine } from './command.js';
import { EmulatorError } from './errors.js';

/** Where `runExec` reads and writes; the CLI passes the process's. */
export interface ExecIo {
  env: Record<string, string | undefined>;
  /** Writes one line (without its newline) to stderr. */
  err(line: string): void;
  /** Signals to forward to the command (the CLI's SIGINT/SIGTERM); called with a handler, returns an unsubscribe. */
  onSignal?(handler: (signal: NodeJS.Signals) => void): () => void;
}

/** Splits `exec [options] -- COMMAND ARGS…`. @throws {EmulatorError} `EMU_ERR_CONFIG` without `--` or a command. */
export function splitExecArgs(argv: string[]): { options: string[]; command: string[] } {
  const dash = argv.indexOf('--');
  if (dash === -1 || dash === argv.length - 1) throw new EmulatorError('EMU_ERR_CONFIG', 'usage: ccs-emulator exec [options] -- COMMAND [ARGS…]');
  return { options: argv.slice(0, dash), command: argv.slice(dash + 1) };
}

/**
 * Runs the command against a fresh emulator; resolves with the exit status to use (the command's,
 * 128 + signal number when a signal ended it, 127 when it could not be started).
 */
export async function runExec(argv: string[], io: ExecIo): Promise<number> {
  const { options: flags, command } = splitExecArgs(argv);
  const line = parseCommandLine(flags, io.env);
  // The admin API is how the command reaches the emulator beyond CCS (inject, drain, faults).
  const emulator = emulatorFor({ port: 0, adminPort: 0, ...line.options }, flags, io.env);
  if (line.verbose) emulator.on('event', (e) => io.err(JSON.stringify({ ts: Date.now(), ...e })));
  await emulator.start();
  const sender = (line.options.senders ?? [])[0] as { senderId: string; apiKey: string };
  const env: Record<string, string | undefined> = {
    ...io.env,
    CCS_HOST: emulator.host,
    CCS_PORT: String(emulator.port),
    CCS_CA_FILE: emulator.caFile,
    CCS_SENDER_ID: sender.senderId,
    CCS_API_KEY: sender.apiKey,
    CCS_EMULATOR_ADMIN_URL: emulator.adminUrl,
  };
  let unsubscribe: (() => void) | undefined;
  const status = await new Promise<number>((resolve) => {
    const child: ChildProcess = spawn(command[0] as string, command.slice(1), { env, stdio: 'inherit' });
    // A Ctrl-C reaches the command (its process group gets it from the terminal anyway); a SIGTERM
    // sent to us alone is passed on, and we stop once it has exited.
    unsubscribe = io.onSignal?.((signal) => child.kill(signal));
    child.once('error', (err: NodeJS.ErrnoException) => {
      io.err(`ccs-emulator: cannot run ${JSON.stringify(command[0])}: ${err.code ?? err.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
  unsubscribe?.();
  await emulator.stop();
  io.err(`ccs-emulator: ledger ${JSON.stringify(emulator.ledger())}`);
  return status;
}
