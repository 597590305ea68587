/**
 * The `ccs-emulator` command, as a testable function: argument parsing, start, the JSON lines on
 * stdout, and stop. `cli.ts` only wires it to the process (argv, env, signals).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { joinNegativeValues } from '@ccs-xmpp/stream';
import { CcsEmulator, type CcsEmulatorOptions, type SenderAccount } from './emulator.js';
import { EmulatorError } from './errors.js';
import { MAX_TIMER_MS, type Faults } from './faults.js';

/** Usage text of `ccs-emulator --help`. */
export const USAGE = `Usage: ccs-emulator [options]
       ccs-emulator exec [options] -- COMMAND [ARGS…]

A local CCS (GCM/FCM XMPP) server over TLS. Prints one JSON line when listening
({"type":"listening","host","port","caFile",…}) and one with the ledger totals on SIGINT/SIGTERM.

  --host H                     listen address (default 127.0.0.1)
  --port N                     port, 0 = any free one (default 5235)
  --sender-id ID               sender ID; repeat for several senders (default 1234567890)
  --api-key KEY                API key; once for all senders or once per --sender-id
                               (prefer env CCS_API_KEY: it keeps the key out of shell history)
  --devices N                  simulated devices per sender (tokens in the listening line)
  --upstream-rate R            upstream messages per second from the simulated devices, per sender
  --cert FILE --key FILE       TLS certificate and key (PEM); default: a generated development certificate
  --seed N                     PRNG seed (fault probabilities, generated tokens)
  --max-pending-upstream N     un-ACKed upstream per connection before pausing it (default 100)
  --upstream-resend-ms MS      re-send un-ACKed upstream after this (default 10000)
  --reject-unknown-tokens      unregistered tokens get BAD_REGISTRATION (default: accepted)
  --device-max-per-second N    per-device rate limit
  --topic-max-per-second N     per-topic rate limit
  --keepalive-ms MS            whitespace keepalive interval (default 30000)
  --no-deliveries              do not keep per-device delivery lists (long benchmarks)
  --handshake-timeout-ms MS    close a connection not bound within MS (default 10000; 0 = never)
  --drain-timeout-ms MS        a drained connection waits at most MS for its un-ACKed upstream and the
                               answer to its ping (default 5000)
  --drain-min-ms MS            a drained connection stays open at least MS, even once the ping is
                               answered and nothing is owed (default 0)
  --max-connections N          open connections at most (default 1000)
  --max-queued-upstream N      upstream messages waiting for a connection per sender (default 10000)
Devices:
  --offline-share F            seeded schedule: share of devices (and of "off" phases) offline
  --idle-share F               share of devices that start idle
  --mean-phase-messages N      mean phase length, in messages sent to the device (default 3)
  --device-state T=STATE[@MS]  scripted transition (online|offline|idle|unregistered), MS after start; repeatable
  --device-group KEY=T1,T2     a device group (notification key) and its member tokens; repeatable
Flow control and legacy CCS:
  --max-pending-downstream N   un-answered downstream per connection a client may have (default 1000)
  --strict-flow-control        close a connection past it with a policy-violation stream error
  --legacy-nacks               the CCS document's NACK shape (composite text in "error"); tokens
                               authfailed-… / quota-… get AUTHENTICATION_FAILED / QUOTA_EXCEEDED
  --admin-port N               serve the admin HTTP API and web console on N (0 = any; adminUrl in the listening line)
  --admin-host H               admin API address (default 127.0.0.1; another needs a token)
  --admin-token T              admin API token (prefer env CCS_EMULATOR_ADMIN_TOKEN)
Faults (every connection):
  --cut-after N                cut a connection after N messages
  --cut-probability P          cut with probability P per message
  --ack-delay MS               hold each ACK/NACK this long
  --service-unavailable-rate F NACK a fraction F with SERVICE_UNAVAILABLE
  --internal-error-rate F      NACK a fraction F with INTERNAL_SERVER_ERROR
  --stall MS                   stop reading each new connection for MS after bind
  --tiny-writes                write in tiny TLS records (--tiny-write-size N bytes, default 7)
  --verbose                    one JSON line per event
  --help
exec runs COMMAND with CCS_HOST, CCS_PORT, CCS_CA_FILE, CCS_SENDER_ID, CCS_API_KEY and
CCS_EMULATOR_ADMIN_URL set, stops the emulator when it exits, prints the ledger totals on stderr
and exits with its status.
`;

/** What the command line asks for. */
export interface CommandLine {
  options: CcsEmulatorOptions;
  verbose: boolean;
  help: boolean;
}

/** Where the command reads and writes; the CLI passes the process's. */
export interface CommandIo {
  env: Record<string, string | undefined>;
  /** Writes one line (without its newline) to stdout. */
  out(line: string): void;
  /** Reads a file (for --cert/--key). Default `readFileSync(path, 'utf8')`. */
  readFile?(path: string): string;
}

function num(flag: string, value: string | undefined, min: number, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new EmulatorError('EMU_ERR_CONFIG', `--${flag} needs ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * `--port` and `--admin-port`: one message for every bad value, the emulator's own range. `abc` and
 * `-1` were "--port needs an integer ≥ 0, got …" here while `99999` was the emulator's
 * "--port must be an integer 0…65535", without the value.
 */
function portNum(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!(Number.isInteger(n) && n >= 0 && n <= 65535)) throw new EmulatorError('EMU_ERR_CONFIG', `--${flag} must be an integer 0…65535, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Parses the arguments (and `CCS_API_KEY` from `env`).
 * @throws {EmulatorError} `EMU_ERR_CONFIG` for an unknown flag or a bad value; the message never contains a key.
 */
export function parseCommandLine(argv: string[], env: Record<string, string | undefined>, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): CommandLine {
  let values;
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv),
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' }, port: { type: 'string' },
        'sender-id': { type: 'string', multiple: true }, 'api-key': { type: 'string', multiple: true },
        devices: { type: 'string' }, 'upstream-rate': { type: 'string' },
        cert: { type: 'string' }, key: { type: 'string' }, seed: { type: 'string' },
        'max-pending-upstream': { type: 'string' }, 'upstream-resend-ms': { type: 'string' },
        'reject-unknown-tokens': { type: 'boolean' },
        'device-max-per-second': { type: 'string' }, 'topic-max-per-second': { type: 'string' },
        'keepalive-ms': { type: 'string' }, 'no-deliveries': { type: 'boolean' },
        'admin-port': { type: 'string' }, 'admin-host': { type: 'string' }, 'admin-token': { type: 'string' },
        'handshake-timeout-ms': { type: 'string' }, 'drain-timeout-ms': { type: 'string' }, 'drain-min-ms': { type: 'string' }, 'max-connections': { type: 'string' }, 'max-queued-upstream': { type: 'string' },
        'cut-after': { type: 'string' }, 'cut-probability': { type: 'string' }, 'ack-delay': { type: 'string' },
        'service-unavailable-rate': { type: 'string' }, 'internal-error-rate': { type: 'string' },
        stall: { type: 'string' }, 'tiny-writes': { type: 'boolean' }, 'tiny-write-size': { type: 'string' },
        'offline-share': { type: 'string' }, 'idle-share': { type: 'string' }, 'mean-phase-messages': { type: 'string' },
        'device-state': { type: 'string', multiple: true }, 'device-group': { type: 'string', multiple: true },
        'max-pending-downstream': { type: 'string' }, 'strict-flow-control': { type: 'boolean' }, 'legacy-nacks': { type: 'boolean' },
        verbose: { type: 'boolean' }, help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    // parseArgs quotes the offending argument, and a stray positional may be a second API key
    // (`--api-key k1 k2`): only option names are echoed, never values.
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new EmulatorError('EMU_ERR_CONFIG', 'unexpected argument (this command takes no positional arguments; give each option its own --flag)');
    }
    const option = /'(--?[A-Za-z0-9-]+)/.exec(e.message)?.[1];
    throw new EmulatorError('EMU_ERR_CONFIG', option !== undefined ? `bad option ${option} (see --help)` : 'bad arguments (see --help)');
  }
  const ids = values['sender-id'] ?? ['1234567890'];
  const keys = values['api-key'] ?? (env['CCS_API_KEY'] ? [env['CCS_API_KEY']] : ['emulator-api-key']);
  if (keys.length !== 1 && keys.length !== ids.length) {
    throw new EmulatorError('EMU_ERR_CONFIG', `give one --api-key for all senders or one per --sender-id (${ids.length})`);
  }
  const senders: SenderAccount[] = ids.map((senderId, i) => ({ senderId, apiKey: (keys.length === 1 ? keys[0] : keys[i]) as string }));
  if ((values.cert === undefined) !== (values.key === undefined)) throw new EmulatorError('EMU_ERR_CONFIG', '--cert and --key go together');

  const faults: Faults = {};
  const set = <K extends keyof Faults>(k: K, v: Faults[K] | undefined): void => {
    if (v !== undefined) faults[k] = v;
  };
  set('cutAfterStanzas', num('cut-after', values['cut-after'], 0, true));
  set('cutProbability', num('cut-probability', values['cut-probability'], 0, false));
  set('ackDelayMs', num('ack-delay', values['ack-delay'], 0, true));
  set('serviceUnavailableRate', num('service-unavailable-rate', values['service-unavailable-rate'], 0, false));
  set('internalErrorRate', num('internal-error-rate', values['internal-error-rate'], 0, false));
  set('stallMs', num('stall', values.stall, 0, true));
  const tinySize = num('tiny-write-size', values['tiny-write-size'], 1, true);
  if (values['tiny-writes'] || tinySize !== undefined) faults.tinyWrites = tinySize ?? true;

  const options: CcsEmulatorOptions = { senders, faults };
  const opt = <K extends keyof CcsEmulatorOptions>(k: K, v: CcsEmulatorOptions[K] | undefined): void => {
    if (v !== undefined) options[k] = v;
  };
  // An empty host would make Node listen on every interface; the emulator is for loopback use.
  if (values.host !== undefined && values.host.trim() === '') throw new EmulatorError('EMU_ERR_CONFIG', '--host must not be empty');
  opt('host', values.host);
  opt('port', portNum('port', values.port));
  opt('devices', num('devices', values.devices, 0, true));
  opt('upstreamRate', num('upstream-rate', values['upstream-rate'], 0, false));
  opt('seed', num('seed', values.seed, 0, true));
  opt('maxPendingUpstream', num('max-pending-upstream', values['max-pending-upstream'], 1, true));
  opt('upstreamResendMs', num('upstream-resend-ms', values['upstream-resend-ms'], 1, true));
  opt('deviceMaxPerSecond', num('device-max-per-second', values['device-max-per-second'], 0, false));
  opt('topicMaxPerSecond', num('topic-max-per-second', values['topic-max-per-second'], 0, false));
  opt('keepaliveIntervalMs', num('keepalive-ms', values['keepalive-ms'], 0, true));
  opt('adminPort', portNum('admin-port', values['admin-port']));
  if (values['admin-host'] !== undefined && values['admin-host'].trim() === '') throw new EmulatorError('EMU_ERR_CONFIG', '--admin-host must not be empty');
  opt('adminHost', values['admin-host']);
  opt('adminToken', values['admin-token'] ?? (env['CCS_EMULATOR_ADMIN_TOKEN'] || undefined));
  opt('handshakeTimeoutMs', num('handshake-timeout-ms', values['handshake-timeout-ms'], 0, true));
  opt('drainTimeoutMs', num('drain-timeout-ms', values['drain-timeout-ms'], 0, true));
  opt('drainMinMs', num('drain-min-ms', values['drain-min-ms'], 0, true));
  opt('maxConnections', num('max-connections', values['max-connections'], 1, true));
  opt('maxQueuedUpstream', num('max-queued-upstream', values['max-queued-upstream'], 1, true));
  if (values['reject-unknown-tokens']) options.acceptUnknownTokens = false;
  const offlineShare = num('offline-share', values['offline-share'], 0, false);
  const idleShare = num('idle-share', values['idle-share'], 0, false);
  const meanMessages = num('mean-phase-messages', values['mean-phase-messages'], 1, true);
  if (offlineShare !== undefined || idleShare !== undefined || meanMessages !== undefined) {
    options.deviceSchedule = { offlineShare: offlineShare ?? 0, ...(idleShare === undefined ? {} : { idleShare }), ...(meanMessages === undefined ? {} : { meanMessages }) };
  }
  for (const spec of values['device-state'] ?? []) {
    const m = /^([^=]+)=(online|offline|idle|unregistered)(?:@(\d+))?$/.exec(spec);
    if (m === null) throw new EmulatorError('EMU_ERR_CONFIG', `--device-state needs TOKEN=online|offline|idle|unregistered[@MS], got ${JSON.stringify(spec)}`);
    const atMs = Number(m[3] ?? 0);
    // A timer's delay: past Node's limit it fired after 1 ms instead (the transition at once).
    if (atMs > MAX_TIMER_MS) throw new EmulatorError('EMU_ERR_CONFIG', `--device-state's @MS must be at most ${MAX_TIMER_MS} ms, got ${JSON.stringify(spec)}`);
    (options.deviceScript ??= []).push({ token: m[1] as string, state: m[2] as 'online', atMs });
  }
  for (const spec of values['device-group'] ?? []) {
    const eq = spec.indexOf('=');
    const tokens = spec.slice(eq + 1).split(',').filter((t) => t !== '');
    if (eq <= 0 || tokens.length === 0) throw new EmulatorError('EMU_ERR_CONFIG', `--device-group needs KEY=TOKEN1,TOKEN2…, got ${JSON.stringify(spec)}`);
    (options.deviceGroups ??= {})[spec.slice(0, eq)] = tokens;
  }
  opt('maxPendingDownstream', num('max-pending-downstream', values['max-pending-downstream'], 1, true));
  if (values['strict-flow-control']) options.strictFlowControl = true;
  if (values['legacy-nacks']) options.legacyNacks = true;
  if (values['no-deliveries']) options.keepDeliveries = false;
  if (values.cert !== undefined && values.key !== undefined) {
    try {
      options.cert = readFile(values.cert);
      options.key = readFile(values.key);
    } catch (err) {
      throw new EmulatorError('EMU_ERR_CONFIG', `cannot read --cert/--key: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  return { options, verbose: values.verbose === true, help: values.help === true };
}

/** The flags of the options the emulator names in its refusals where the flag is not the option in kebab-case. */
const FLAG_OF: Record<string, string> = {
  keepaliveIntervalMs: '--keepalive-ms',
  'fault cutAfterStanzas': '--cut-after',
  'fault ackDelayMs': '--ack-delay',
  'fault stallMs': '--stall',
  'deviceSchedule.offlineShare': '--offline-share',
  'deviceSchedule.idleShare': '--idle-share',
  'deviceSchedule.meanMessages': '--mean-phase-messages',
};

/**
 * The emulator's refusal of an option the command line set, naming the flag as the user typed it
 * (`--port must be …`, `--cut-probability must be …`) instead of the option (`port`, `fault
 * cutProbability`); `adminToken` is `--admin-token`, or `CCS_EMULATOR_ADMIN_TOKEN` when it came from there.
 */
function asTyped(err: unknown, argv: readonly string[], env: CommandIo['env']): unknown {
  if (!(err instanceof EmulatorError) || err.code !== 'EMU_ERR_CONFIG') return err;
  const tokenFlag = argv.some((a) => a === '--admin-token' || a.startsWith('--admin-token=')) || !env['CCS_EMULATOR_ADMIN_TOKEN'] ? '--admin-token' : 'CCS_EMULATOR_ADMIN_TOKEN';
  const flag = (name: string): string => name === 'adminToken' ? tokenFlag : FLAG_OF[name] ?? `--${name.replace(/^(fault |deviceSchedule\.)/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const message = err.message
    .replace(/^deviceSchedule\.offlineShare \+ idleShare/, '--offline-share + --idle-share')
    .replace(/^((?:fault |deviceSchedule\.)?[A-Za-z]+)(?= must )/, (name) => flag(name))
    .replace(/ needs adminToken$/, ` needs ${tokenFlag}`);
  return message === err.message ? err : new EmulatorError('EMU_ERR_CONFIG', message, { cause: err, ...(err.field === undefined ? {} : { field: err.field }) });
}

/** The emulator for a command line's options; one it refuses names the flag as typed (see {@link asTyped}). */
export function emulatorFor(options: CcsEmulatorOptions, argv: readonly string[], env: CommandIo['env']): CcsEmulator {
  try {
    return new CcsEmulator(options);
  } catch (err) {
    throw asTyped(err, argv, env);
  }
}

/** A running command: `stop()` stops the emulator and prints the ledger totals line. */
export interface RunningCommand {
  emulator: CcsEmulator;
  stop(): Promise<void>;
}

/**
 * Runs the command: parses, starts, prints the listening line (and with `--verbose` one line per
 * event). Resolves with a handle once listening, or `undefined` after `--help`.
 */
export async function runCommand(argv: string[], io: CommandIo): Promise<RunningCommand | undefined> {
  const line = parseCommandLine(argv, io.env, io.readFile);
  if (line.help) {
    for (const l of USAGE.trimEnd().split('\n')) io.out(l);
    return undefined;
  }
  const emulator = emulatorFor(line.options, argv, io.env);
  if (line.verbose) emulator.on('event', (e) => io.out(JSON.stringify({ ts: Date.now(), ...e })));
  await emulator.start();
  const devices: Record<string, string[]> = {};
  for (const { senderId } of line.options.senders ?? []) devices[senderId] = emulator.deviceTokens(senderId);
  io.out(JSON.stringify({
    type: 'listening', host: emulator.host, port: emulator.port, caFile: emulator.caFile,
    servername: 'localhost', senders: Object.keys(devices), devices, seed: emulator.seed,
    ...(emulator.adminUrl === '' ? {} : { adminUrl: emulator.adminUrl }),
  }));
  let stopping: Promise<void> | undefined;
  return {
    emulator,
    stop() {
      stopping ??= emulator.stop().then(() => io.out(JSON.stringify({ type: 'stopped', ...emulator.ledger() })));
      return stopping;
    },
  };
}
