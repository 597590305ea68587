/**
 * The demo's command line: flags → {@link DemoOptions}, run, exit code. `cli.ts` and
 * `scripts/start.mjs` wire the real process to {@link runDemoCli}; tests call it with buffers.
 */
import { parseArgs } from 'node:util';
import { joinNegativeValues } from '@ccs-xmpp/stream';
import type { DemoOutput } from './progress.js';
import { runDemo, type DemoOptions } from './run-demo.js';

/** Where the CLI writes. */
export interface DemoCliIo {
  stdout: DemoOutput;
  stderr: { write(s: string): unknown };
  /** Stops injecting (SIGINT / SIGTERM in the real process); the summary still prints. */
  signal?: AbortSignal;
}

/** Exit code: nothing lost and no echo to a valid device refused. */
export const DEMO_EXIT_OK = 0;
/** Something was lost or refused, or the run failed. */
export const DEMO_EXIT_FAILED = 1;
/** Bad flags. */
export const DEMO_EXIT_USAGE = 2;

/** The `--help` text. */
export const DEMO_USAGE = `usage: npm start -- [options]      (or: node scripts/start.mjs [options])

Runs the CCS echo app server (@ccs-xmpp/ccs) against an embedded CCS emulator: simulated devices
send upstream messages, the app server echoes each one back and ACKs it; NACKs, a drain and a cut
happen along the way. Ends with a summary checked against the emulator's ledger; exit 0 iff
nothing was lost.

  --devices N                    simulated devices (default 300)
  --messages N                   upstream messages to send (default 5000)
  --duration SEC                 run this long instead (messages = rate x duration)
  --rate N                       upstream messages per second (default 400)
  --connections N                app server connections (default 2)
  --nack-rate X                  share of messages from unregistered/bad devices (default 0.02)
  --service-unavailable-rate X   share of echoes NACKed SERVICE_UNAVAILABLE (default 0.01)
  --drain-at X / --no-drain      drain one connection at this fraction of the run (default 0.4)
  --cut-at X / --no-cut          cut one connection at this fraction of the run (default 0.7)
  --no-rate-limit                no bursts from the rate-limited device
  --offline-share X              share of devices offline until the end of the run: echoes to them
                                 are held, or expire if sent with time_to_live 0 (default 0.1)
  --seed N                       reproduce a run (default random, printed)
  --console                      serve the emulator's web console (URL printed first) and keep it
                                 and the emulator up after the summary, until Ctrl-C
  --help                         this text`;

/** A flag the user got wrong: one line on stderr, exit 2. */
export class DemoUsageError extends Error {
  override name = 'DemoUsageError';
}

const SPEC = {
  devices: { type: 'string' },
  messages: { type: 'string' },
  duration: { type: 'string' },
  rate: { type: 'string' },
  connections: { type: 'string' },
  'nack-rate': { type: 'string' },
  'service-unavailable-rate': { type: 'string' },
  'drain-at': { type: 'string' },
  'cut-at': { type: 'string' },
  'no-drain': { type: 'boolean' },
  'no-cut': { type: 'boolean' },
  'no-rate-limit': { type: 'boolean' },
  'offline-share': { type: 'string' },
  seed: { type: 'string' },
  console: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function number(name: string, v: string | undefined, min: number, max: number, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new DemoUsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Parses the flags; `undefined` means `--help`. @throws {DemoUsageError} */
export function parseDemoArgs(argv: readonly string[]): DemoOptions | undefined {
  let v: { [K in keyof typeof SPEC]?: (typeof SPEC)[K]['type'] extends 'string' ? string : boolean };
  try {
    v = parseArgs({ args: joinNegativeValues(argv), options: SPEC, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new DemoUsageError((err as Error).message.split('\n')[0] as string);
  }
  if (v.help) return undefined;
  if (v['no-drain'] && v['drain-at'] !== undefined) throw new DemoUsageError('--drain-at and --no-drain contradict each other');
  if (v['no-cut'] && v['cut-at'] !== undefined) throw new DemoUsageError('--cut-at and --no-cut contradict each other');
  if (v.messages !== undefined && v.duration !== undefined) throw new DemoUsageError('give --messages or --duration, not both');
  const o: DemoOptions = {};
  const faults: NonNullable<DemoOptions['faults']> = {};
  const set = <T>(value: T | undefined, apply: (x: T) => void): void => {
    if (value !== undefined) apply(value);
  };
  set(number('devices', v.devices, 1, 1_000_000, true), (x) => (o.devices = x));
  set(number('messages', v.messages, 1, 10_000_000, true), (x) => (o.messages = x));
  set(number('duration', v.duration, 0.01, 86_400, false), (x) => (o.durationSec = x));
  set(number('rate', v.rate, 1, 100_000, false), (x) => (o.rate = x));
  set(number('connections', v.connections, 1, 64, true), (x) => (o.connections = x));
  set(number('seed', v.seed, 0, 2 ** 32 - 1, true), (x) => (o.seed = x));
  set(number('nack-rate', v['nack-rate'], 0, 1, false), (x) => (faults.nackRate = x));
  set(number('service-unavailable-rate', v['service-unavailable-rate'], 0, 0.5, false), (x) => (faults.serviceUnavailableRate = x));
  set(number('drain-at', v['drain-at'], 0, 1, false), (x) => (faults.drainAt = x));
  set(number('cut-at', v['cut-at'], 0, 1, false), (x) => (faults.cutAt = x));
  set(number('offline-share', v['offline-share'], 0, 1, false), (x) => (faults.offlineShare = x));
  if (v['no-drain']) faults.drainAt = false;
  if (v['no-cut']) faults.cutAt = false;
  if (v['no-rate-limit']) faults.rateLimit = false;
  if (v.console) o.console = true;
  o.faults = faults;
  return o;
}

/**
 * Runs the demo from command-line flags and resolves with the exit code. Never throws, never
 * calls `process.exit`.
 */
export async function runDemoCli(argv: readonly string[], io: DemoCliIo): Promise<number> {
  let options: DemoOptions | undefined;
  try {
    options = parseDemoArgs(argv);
  } catch (err) {
    io.stderr.write(`ccs-demo: ${(err as Error).message} (try --help)\n`);
    return DEMO_EXIT_USAGE;
  }
  if (options === undefined) {
    io.stdout.write(`${DEMO_USAGE}\n`);
    return DEMO_EXIT_OK;
  }
  try {
    const summary = await runDemo(io.signal === undefined ? options : { ...options, signal: io.signal }, { out: io.stdout });
    return summary.ok ? DEMO_EXIT_OK : DEMO_EXIT_FAILED;
  } catch (err) {
    io.stderr.write(`ccs-demo: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    return DEMO_EXIT_FAILED;
  }
}
