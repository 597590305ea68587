import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { joinNegativeValues } from '@ccs-xmpp/stream';
import type { JsonObject, OutgoingMessage, ReceiptMessage, UpstreamMessage } from '@ccs-xmpp/stanza';
import { ValidationError, validateDownstream } from '@ccs-xmpp/stanza';
import { CcsClient, type SettledEvent } from './client.js';
import type { StoreBundle } from './store.js';
import type { ConnectionEvent, ReconnectEvent } from './connection-pool.js';
import { MAX_DURATION_MS, type CcsClientOptions } from './options.js';
import { AbortError, CcsError, HandshakeError, InvalidMessageError, NackError, TimeoutError } from './errors.js';
import { describeJsonSyntaxProblem, findJsonSyntaxProblem } from './json-syntax.js';
import type { SendResult } from './outbound.js';
import { wireChannel, type WireTraceMessage } from './wire-trace.js';

/** Where the CLI reads and writes; the real process in `cli.ts`, buffers in tests. */
export interface CliIo {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /**
   * Stops the command (SIGINT / SIGTERM in the real process): a connection attempt is cancelled,
   * `send` reports its message as aborted, `echo` stops; both close within about a second. A
   * `--store` still waiting for Redis is dropped at once (one line, exit 1).
   */
  signal?: AbortSignal;
}

/** Exit codes. */
export const EXIT_OK = 0;
/** NACK, timeout, or a failure after the connection was up. */
export const EXIT_FAILED = 1;
/** Bad arguments, missing credentials, or no connection. */
export const EXIT_USAGE = 2;

const USAGE = `usage: ccs <command> [options]

commands:
  send   --to TOKEN | --condition EXPR  [--data JSON] [--notification JSON]
         [--ttl N | --time-to-live N] [--collapse-key K] [--priority normal|high] [--dry-run]
         [--message-id ID] [--delivery-receipt] [--content-available] [--mutable-content]
         [--delay-while-idle] [--timeout MS]
         Sends one message, prints the ACK or NACK as one JSON line; exit 0 on ACK.
  echo   [--sample java|python] [--metrics-port N] [--trace]
         Runs the echo app server: ACKs each upstream message and sends its data back to
         its sender. One JSON line per event on stdout, until SIGINT/SIGTERM.
         --sample java: as the CCS document's Smack sample: the data plus
           "ECHO":"Application: <category>", collapse_key "echo:CollapseKey", id m-<random>,
           ACKed after the echo is sent.
         --sample python: as its Python sample: ACK at once, then {"pong":1} to the sender
           with a random 8-character id.
         --metrics-port N: serve the client's metrics (Prometheus text format) at
           http://127.0.0.1:N/metrics (0: any free port; printed as a "metrics" line).
         --trace: also print every chunk in and out of each connection as a "wire" line
           (SASL payloads and the API key redacted).

connection options (both commands):
  --host HOST (or CCS_HOST; required: Google's CCS endpoint is gone, see below)  --port N (default 5235)
  --ca FILE (trusted CA, PEM)  --servername NAME  --insecure (accept a self-signed certificate)
  --connections N  --max-pending N
  --store redis://HOST:PORT[/DB]  keep the outbox and the upstream de-duplication in Redis,
         shared by every process of the sender (needs the package @ccs-xmpp/store-redis)
  --store-timeout MS  how long the --store may take to connect and take its lease (default 10000)
  Without --host, --port, --ca: CCS_HOST, CCS_PORT, CCS_CA_FILE (set by \`ccs-emulator exec\`).

The sender ID and API key are read from CCS_SENDER_ID and CCS_API_KEY (never from flags, which
end up in shell history).

Google shut down CCS (gcm.googleapis.com, fcm-xmpp.googleapis.com) in 2024: there is no default
host. Use a CCS-compatible server, e.g. the emulator: \`npx ccs-emulator --port 0\` prints
{"host","port","caFile"}; pass them as --host, --port and --ca.`;

/** What to give `--host` instead: the end of the no-host and the empty-host messages. */
const TO_A_SERVER = 'point --host at a CCS-compatible server, e.g. a local emulator: run `npx ccs-emulator --port 0` and pass the host, port and caFile of its listening line as --host, --port and --ca';

/**
 * Why `ccs` has no default host. The CLI checks this before connecting: a DNS lookup of the old
 * name would only say ENOTFOUND.
 */
const NO_HOST = "no --host given and CCS_HOST is not set: Google's CCS endpoint (gcm.googleapis.com) was shut down in 2024, so there is no default. " +
  TO_A_SERVER.replace(/^p/, 'P');

/**
 * How long a command interrupted by a signal waits for what is pending (and then for each stream's
 * close) before it gives up on it: the user asked to stop, so about a second, not the usual bounds.
 */
const STOP_MS = 700;

/** A refusal with a one-line message for the user. */
class UsageError extends Error {}

/** The command was stopped (SIGINT / SIGTERM) before it could start: one line, exit 1. */
class StoppedError extends Error {}

const COMMON = {
  host: { type: 'string' },
  port: { type: 'string' },
  ca: { type: 'string' },
  servername: { type: 'string' },
  insecure: { type: 'boolean' },
  connections: { type: 'string' },
  'max-pending': { type: 'string' },
  store: { type: 'string' },
  'store-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SEND = {
  ...COMMON,
  to: { type: 'string' },
  condition: { type: 'string' },
  data: { type: 'string' },
  notification: { type: 'string' },
  ttl: { type: 'string' },
  'collapse-key': { type: 'string' },
  priority: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'message-id': { type: 'string' },
  'delivery-receipt': { type: 'boolean' },
  'content-available': { type: 'boolean' },
  'mutable-content': { type: 'boolean' },
  'delay-while-idle': { type: 'boolean' },
  'time-to-live': { type: 'string' },
  timeout: { type: 'string' },
} as const;

const ECHO = { ...COMMON, sample: { type: 'string' }, 'metrics-port': { type: 'string' }, trace: { type: 'boolean' } } as const;

function int(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return Number(value);
}

/**
 * The port from `--port` or `CCS_PORT` (`name`), 5235 without either. One message for every bad
 * value, the client's own range: `abc` and `0` were "--port (CCS_PORT) must be an integer >= 1"
 * here while `99999` was the client's "CCS_PORT must be an integer from 1 to 65535".
 */
function port(name: string, text: string | undefined): number {
  if (text === undefined) return 5235;
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= 65535)) throw new UsageError(`${name} must be an integer from 1 to 65535, got ${Number.isNaN(n) ? JSON.stringify(text) : text}`);
  return n;
}

function jsonObject(name: string, value: string | undefined): JsonObject | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    // Where it breaks, not just that it does: Node 20 says "Unexpected end of JSON input".
    let where: string;
    try {
      const problem = findJsonSyntaxProblem(value);
      where = problem === undefined ? (err as Error).message : describeJsonSyntaxProblem(value, problem);
    } catch {
      where = (err as Error).message; // nested too deeply for the scanner's recursion
    }
    throw new UsageError(`--${name} is not valid JSON: ${where}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--${name} must be a JSON object`);
  return parsed as JsonObject;
}

function clientOptions(values: Record<string, string | boolean | undefined>, env: CliIo['env']): CcsClientOptions {
  const senderId = env['CCS_SENDER_ID'];
  const apiKey = env['CCS_API_KEY'];
  if (!senderId || !apiKey) {
    const missing = [senderId ? '' : 'CCS_SENDER_ID', apiKey ? '' : 'CCS_API_KEY'].filter((m) => m !== '');
    throw new UsageError(`${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set: the sender ID and API key are read from the environment only, never from flags`);
  }
  // A flag wins over the environment, which `ccs-emulator exec` fills in.
  const caFlag = values['ca'] as string | undefined;
  const caFile = caFlag ?? (env['CCS_CA_FILE'] || undefined);
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${caFlag === undefined ? 'CCS_CA_FILE' : '--ca'} ${caFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const host = (values['host'] as string | undefined) ?? (env['CCS_HOST'] || undefined);
  // Given but blank (`--host ''`, `CCS_HOST=' '`): said as such, not "no --host given" nor a lookup of " ".
  if (host !== undefined && host.trim() === '') throw new UsageError(`${values['host'] === undefined ? 'CCS_HOST' : '--host'} is empty: ${TO_A_SERVER}`);
  const options: CcsClientOptions = {
    senderId,
    apiKey,
    host,
    port: port(values['port'] === undefined ? 'CCS_PORT' : '--port', (values['port'] as string | undefined) ?? (env['CCS_PORT'] || undefined)),
    tls: {
      ...(ca === undefined ? {} : { ca }),
      ...(values['servername'] === undefined ? {} : { servername: values['servername'] as string }),
      rejectUnauthorized: values['insecure'] !== true,
    },
  };
  const connections = int('connections', values['connections'] as string | undefined, 1);
  if (connections !== undefined) options.connections = connections;
  const maxPending = int('max-pending', values['max-pending'] as string | undefined, 1);
  if (maxPending !== undefined) options.maxPending = maxPending;
  if (!host) throw new UsageError(NO_HOST);
  return options;
}

/** How long `--store` may take to connect and take its lease by default (`--store-timeout`). */
const STORE_READY_MS = 10_000;

/** What the CLI uses of `@ccs-xmpp/store-redis`'s store. */
interface CliStore extends StoreBundle {
  ready(): Promise<void>;
  destroy(): void;
  on(event: 'down', listener: (err: Error) => void): unknown;
  on(event: 'up', listener: () => void): unknown;
}

/**
 * `--store redis://…`: the Redis-backed outbox and de-duplication, connected and holding its lease.
 * Loaded at run time: the store package is optional, and it depends on this one.
 */
async function openStore(io: CliIo, url: string | undefined, senderId: string, timeoutText: string | undefined): Promise<CliStore | undefined> {
  const timeoutMs = int('store-timeout', timeoutText, 1) ?? STORE_READY_MS;
  if (timeoutMs > MAX_DURATION_MS) throw new UsageError(`--store-timeout must be at most ${MAX_DURATION_MS}, got ${JSON.stringify(timeoutText)}`);
  if (url === undefined) return undefined;
  if (!/^rediss?:\/\//.test(url)) throw new UsageError('--store must be a redis:// or rediss:// URL');
  const spec = '@ccs-xmpp/store-redis';
  let mod: {
    redisStore(options: { redis: string; senderId: string; readyTimeoutMs: number }): CliStore;
    /** The URL as it may be printed: the password (and any `pass…` query parameter) as `***`. */
    redactedRedis(redis: string): string;
  };
  try {
    mod = (await import(spec)) as typeof mod;
  } catch {
    throw new UsageError('--store needs the package @ccs-xmpp/store-redis (npm install @ccs-xmpp/store-redis)');
  }
  let store: CliStore;
  try {
    // The wait is bounded below, by --store-timeout (its own message, and a signal cuts it): the
    // store's own bound (readyTimeoutMs, 10 s by default) is set past it, or it would cut a longer one.
    store = mod.redisStore({ redis: url, senderId, readyTimeoutMs: MAX_DURATION_MS });
  } catch (err) {
    // A URL it cannot parse (the store's TypeError never quotes it: it may hold a password), or a
    // sender ID it cannot key by — named as the user gave them (`redis`, `senderId` are the store's names).
    const text = (err instanceof Error ? err.message : String(err)).replace(/^redis is not/, 'the URL is not').replace(/^senderId /, 'CCS_SENDER_ID ');
    throw new UsageError(`cannot use the --store: ${text}`);
  }
  // Bounded here: a Redis that accepts the connection and never answers (stopped, paused) keeps
  // ready() pending until the store's bound, and the command with it, printing nothing. The first
  // SIGINT cuts the wait too (it did nothing until --store-timeout: the signal was only looked at
  // once the store was open).
  let timer: NodeJS.Timeout | undefined;
  let stop: (() => void) | undefined;
  const cut = new Promise<'late' | 'stopped'>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, 'late');
    stop = () => resolve('stopped');
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });
  try {
    const answered = await Promise.race([store.ready(), cut]).finally(() => {
      clearTimeout(timer);
      if (stop !== undefined) io.signal?.removeEventListener('abort', stop);
    });
    if (answered === 'late') {
      throw new UsageError(`cannot use the --store ${mod.redactedRedis(url)}: Redis did not answer within ${timeoutMs} ms (stopped, paused, unreachable or still loading?); --store-timeout MS sets the wait`);
    }
    if (answered === 'stopped') throw new StoppedError(`stopped while waiting for the --store ${mod.redactedRedis(url)}: Redis had not answered`);
  } catch (err) {
    store.destroy();
    if (err instanceof UsageError || err instanceof StoppedError) throw err;
    // The URL may carry a password: only the store's own one-line reason is shown.
    throw new UsageError(`cannot use the --store: ${err instanceof Error ? err.message : String(err)}`);
  }
  store.on('down', (err) => line(io, { event: 'store-down', reason: err.message }));
  store.on('up', () => line(io, { event: 'store-up' }));
  return store;
}

/**
 * The client over the command line's options. One it refuses (`--port 99999`, a `--max-pending`
 * past 2^53) is a bad argument (exit 2), and the `--store` opened for it is let go: left open, its
 * Redis connection kept the process running after the error was printed, for good.
 */
function newClient(options: CcsClientOptions, store: CliStore | undefined, values: Record<string, string | boolean | undefined>): CcsClient {
  try {
    return new CcsClient(options);
  } catch (err) {
    store?.destroy();
    // The client names its option (`option port must be …`); the user typed a flag or set a variable.
    const text = err instanceof Error ? err.message : String(err);
    throw new UsageError(text.replace(/^option ([A-Za-z.]+)/, (whole, name: string) => cliName(name, values) ?? whole));
  }
}

/** The flag (or environment variable) a client option came from on this command line; `undefined` for one the CLI sets itself. */
function cliName(option: string, values: Record<string, string | boolean | undefined>): string | undefined {
  switch (option) {
    case 'port': return values['port'] === undefined ? 'CCS_PORT' : '--port';
    case 'host': return values['host'] === undefined ? 'CCS_HOST' : '--host';
    case 'connections': return '--connections';
    case 'maxPending': return '--max-pending';
    case 'tls.servername': return '--servername';
    case 'senderId': return 'CCS_SENDER_ID';
    case 'apiKey': return 'CCS_API_KEY';
    default: return undefined;
  }
}

/** An adopted message's outcome: the ack / nack / error line, as `event: 'settled'` with `outcome` saying which. */
function settledLine(e: SettledEvent): object {
  const { event, ...fields } = (e.result !== undefined ? ackLine(e.result) : failureLine(e.error)) as { event: string };
  return { event: 'settled', outcome: event, ...fields, ...(e.result === undefined ? { message_id: e.messageId } : {}) };
}

const line = (io: CliIo, obj: object): void => {
  io.stdout.write(`${JSON.stringify(obj)}\n`);
};

function ackLine(r: SendResult): object {
  const g = r.deviceGroup;
  return {
    event: 'ack', message_id: r.messageId, from: r.from, ...(r.registrationId ? { registration_id: r.registrationId } : {}),
    ...(g ? { success: g.success, failure: g.failure, failed_registration_ids: g.failedRegistrationIds } : {}), retries: r.retries,
  };
}

function failureLine(err: unknown): object {
  if (err instanceof NackError) {
    return { event: 'nack', message_id: err.messageId, code: err.nackCode, ...(err.reason ? { reason: err.reason } : {}), description: err.description, retry_class: err.retryClass, retries: err.retries };
  }
  if (err instanceof InvalidMessageError) return { event: 'invalid', message_id: err.messageId, code: err.nackCode, reason: err.reason, field: err.field, description: err.cause.message };
  if (err instanceof ValidationError) return { event: 'invalid', message_id: err.messageId, code: err.nackCode, reason: err.reason, field: err.field, description: err.message };
  if (err instanceof TimeoutError || err instanceof AbortError) {
    // Not answered: whether it was written says whether it may still be delivered.
    return { event: 'error', code: err.code, message_id: err.messageId, written: err.written, description: err.message };
  }
  if (err instanceof CcsError) return { event: 'error', code: err.code, description: err.message };
  return { event: 'error', code: 'CCS_ERR_UNKNOWN', description: err instanceof Error ? err.message : String(err) };
}

/** One line, no stack: what the user sees on stderr. */
function describe(err: unknown, options: CcsClientOptions): string {
  if (err instanceof HandshakeError) {
    return `cannot connect to ${options.host}:${options.port} (step ${err.step}${err.timedOut ? ', timed out' : ''}): ${err.message}${certificateHint(err, options.host)}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Node's codes for a server certificate that is not trusted, or not for the name connected to. */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * What to do about a certificate error. Against a local server it is almost always the emulator,
 * whose development certificate is its own CA: the fix is `--ca` with the file it printed.
 */
function certificateHint(err: HandshakeError, host: string | undefined): string {
  let code: string | undefined;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5 && code === undefined; e = e.cause, depth++) {
    const c = (e as NodeJS.ErrnoException).code;
    if (c !== undefined && CERTIFICATE_ERRORS.has(c)) code = c;
  }
  if (code === undefined) return '';
  const local = host === 'localhost' || host === '::1' || host?.startsWith('127.') === true;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return local ? ' (a local ccs-emulator\'s certificate is for localhost and 127.0.0.1: connect to one of those or pass --servername localhost)' : ' (--servername NAME sets the name the certificate must carry)';
  }
  return local
    ? ' (for a local ccs-emulator, pass --ca with the caFile of its listening line: its certificate is its own CA)'
    : ' (pass --ca FILE with the CA that signed the server\'s certificate)';
}

/**
 * Runs the `ccs` command line and resolves with the exit code. Never throws, never calls
 * `process.exit`, never prints a stack trace or the API key.
 */
export async function runCli(io: CliIo): Promise<number> {
  const [command, ...rest] = io.argv;
  try {
    switch (command) {
      case 'send':
        return await sendCommand(io, rest);
      case 'echo':
        return await echoCommand(io, rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(`${USAGE}\n`);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      default:
        // Not echoed: a stray word on a command line may be a key pasted in the wrong place.
        throw new UsageError('unknown command (not shown, in case it is a key); the commands are send and echo (try: ccs help)');
    }
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    io.stderr.write(`ccs: ${msg}\n`);
    return err instanceof UsageError || err instanceof HandshakeError ? EXIT_USAGE : EXIT_FAILED;
  }
}

function parse<T extends typeof SEND | typeof ECHO>(args: string[], spec: T): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: joinNegativeValues(args), options: spec, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    // parseArgs quotes a stray positional argument; it may be a key pasted in the wrong place, so
    // only its position is told. (Unknown options are named: an option name is no secret, and
    // parseArgs leaves out the value of `--name=value`.)
    if ((err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const at = args.findIndex((a, i) => !a.startsWith('-') && (i === 0 || !takesValue(args[i - 1] as string, spec)));
      throw new UsageError(`unexpected argument${at === -1 ? '' : ` at position ${at + 2}`} (not shown, in case it is a key): every value goes after its --option`);
    }
    throw new UsageError((err as Error).message.split('\n')[0] as string);
  }
}

/** Whether `--x` (not `--x=v`) is an option of `spec` that takes the next argument as its value. */
function takesValue(arg: string, spec: typeof SEND | typeof ECHO): boolean {
  if (!arg.startsWith('--') || arg.includes('=')) return false;
  const def = (spec as Record<string, { type: string } | undefined>)[arg.slice(2)];
  return def?.type === 'string';
}

/**
 * Connects, or throws a one-line HandshakeError. A signal during the attempt cancels it (the
 * client is closed at once) and returns normally: the caller reports what was not done.
 */
async function connectOrExplain(client: CcsClient, options: CcsClientOptions, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return;
  const stop = (): void => {
    void client.close({ timeoutMs: STOP_MS });
  };
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await client.connect();
  } catch (err) {
    if (signal?.aborted) return;
    client.destroy();
    const e = new HandshakeError(err instanceof HandshakeError ? err.step : 'tls', describe(err, options));
    throw e;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

async function sendCommand(io: CliIo, args: string[]): Promise<number> {
  const v = parse(args, SEND);
  if (v['help']) {
    io.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if ((v['to'] === undefined) === (v['condition'] === undefined)) throw new UsageError('give exactly one of --to and --condition');
  const msg: OutgoingMessage = {};
  if (v['to'] !== undefined) msg.to = v['to'] as string;
  if (v['condition'] !== undefined) msg.condition = v['condition'] as string;
  const data = jsonObject('data', v['data'] as string | undefined);
  if (data) msg.data = data;
  const notification = jsonObject('notification', v['notification'] as string | undefined);
  if (notification) msg.notification = notification;
  if (v['ttl'] !== undefined && v['time-to-live'] !== undefined) throw new UsageError('give one of --ttl and --time-to-live (the same field)');
  const ttl = v['ttl'] !== undefined ? int('ttl', v['ttl'] as string, 0) : int('time-to-live', v['time-to-live'] as string | undefined, 0);
  if (ttl !== undefined) msg.time_to_live = ttl;
  if (v['collapse-key'] !== undefined) msg.collapse_key = v['collapse-key'] as string;
  if (v['priority'] !== undefined) {
    if (v['priority'] !== 'high' && v['priority'] !== 'normal') throw new UsageError('--priority must be "normal" or "high"');
    msg.priority = v['priority'];
  }
  if (v['dry-run']) msg.dry_run = true;
  if (v['delivery-receipt']) msg.delivery_receipt_requested = true;
  if (v['content-available']) msg.content_available = true;
  if (v['mutable-content']) msg.mutable_content = true;
  if (v['delay-while-idle']) msg.delay_while_idle = true;
  if (v['message-id'] !== undefined) msg.message_id = v['message-id'] as string;
  const timeoutMs = int('timeout', v['timeout'] as string | undefined, 1) ?? 30_000;
  const options = clientOptions(v, io.env);
  // Validate before connecting: a bad message should not cost a TLS handshake.
  // Without --message-id the client assigns the id at send time: validate with a stand-in, and
  // print no id at all rather than the stand-in, which was never sent.
  const invalid = validateDownstream(msg, msg.message_id === undefined ? 'unsent' : undefined);
  if (invalid !== undefined) {
    line(io, { ...failureLine(invalid), message_id: msg.message_id });
    return EXIT_USAGE;
  }
  const store = await openStore(io, v['store'] as string | undefined, options.senderId, v['store-timeout'] as string | undefined);
  const client = newClient({ ...options, reconnectMaxMs: 2000, ...(store ? { store } : {}) }, store, v);
  // The signal settles the message at once (AbortError says whether it had been written).
  const pending = client.send(msg, { timeoutMs, ...(io.signal ? { signal: io.signal } : {}) });
  pending.catch(() => {});
  let code: number;
  try {
    await connectOrExplain(client, options, io.signal);
    const r = await pending;
    line(io, ackLine(r));
    code = EXIT_OK;
  } catch (err) {
    if (err instanceof HandshakeError) throw err;
    line(io, failureLine(err));
    code = EXIT_FAILED;
  }
  await client.close({ timeoutMs: io.signal?.aborted ? STOP_MS : 2000 });
  return code;
}

/** The echo each `--sample` sends back for an upstream message. */
type EchoSample = 'plain' | 'java' | 'python';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * The echo of an upstream message, as each sample of the CCS document writes it. `java`: the Smack
 * sample's `handleIncomingDataMessage` (the data plus `ECHO`, collapse key `echo:CollapseKey`, id
 * `"m-" + random.nextLong()`); `python`: its `message_callback` (`{"pong":1}`, an 8-character id).
 */
function echoMessage(sample: EchoSample, m: UpstreamMessage): OutgoingMessage {
  switch (sample) {
    case 'java':
      return {
        to: m.from, message_id: `m-${randomBytes(8).readBigInt64BE()}`,
        data: { ...m.data, ECHO: `Application: ${m.category ?? 'null'}` }, collapse_key: 'echo:CollapseKey',
      };
    case 'python': {
      const b = randomBytes(8);
      let id = '';
      for (const x of b) id += ALNUM[x % ALNUM.length];
      return { to: m.from, message_id: id, data: { pong: 1 } };
    }
    default:
      return { to: m.from, data: m.data };
  }
}

async function echoCommand(io: CliIo, args: string[]): Promise<number> {
  const v = parse(args, ECHO);
  if (v['help']) {
    io.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  const sample = (v['sample'] as string | undefined) ?? 'plain';
  if (sample !== 'plain' && sample !== 'java' && sample !== 'python') throw new UsageError('--sample must be "java" or "python"');
  const metricsPort = int('metrics-port', v['metrics-port'] as string | undefined, 0);
  if (metricsPort !== undefined && metricsPort > 65535) throw new UsageError('--metrics-port must be at most 65535');
  const options = clientOptions(v, io.env);
  // The Python sample ACKs each upstream message before anything else; the Java one after its echo.
  if (sample === 'python') options.ackOnReceipt = true;
  if (io.signal?.aborted) return EXIT_OK;
  const store = await openStore(io, v['store'] as string | undefined, options.senderId, v['store-timeout'] as string | undefined);
  if (store) options.store = store;
  const client = newClient(options, store, v);
  // Messages adopted from a dead instance of the fleet: nobody awaits them here.
  client.on('settled', (e: SettledEvent) => line(io, settledLine(e)));
  let sent = 0;
  // The echo itself must not hold up the upstream ACK: it is sent, not awaited.
  client.onUpstream((m: UpstreamMessage) => {
    line(io, { event: 'upstream', from: m.from, message_id: m.messageId, category: m.category, data: m.data });
    sent++;
    client.send(echoMessage(sample, m)).then(
      (r) => line(io, ackLine(r)),
      (err: unknown) => line(io, failureLine(err)),
    );
  });
  client.on('online', (e: ConnectionEvent) => line(io, { event: 'connected', connection: e.connectionId }));
  client.on('offline', (e: ConnectionEvent) => line(io, { event: 'disconnected', connection: e.connectionId, ...(e.error ? { reason: e.error.message } : {}) }));
  client.on('draining', (e: ConnectionEvent) => line(io, { event: 'draining', connection: e.connectionId }));
  client.on('reconnecting', (e: ReconnectEvent) => line(io, { event: 'reconnecting', attempt: e.attempt, delay_ms: e.delayMs }));
  client.on('receipt', (r: ReceiptMessage) => line(io, { event: 'receipt', message_id: r.messageId, original_message_id: r.originalMessageId, status: r.status }));
  client.on('error', (err: Error) => io.stderr.write(`ccs: ${describe(err, options)}\n`));
  const stopped = new Promise<void>((resolve) => {
    if (io.signal === undefined) return;
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  // The wire trace runs from the first byte through close() (the closing stanzas), and stops with the command.
  const trace = v['trace'] === true ? (m: WireTraceMessage): void => line(io, { event: 'wire', connection: m.connectionId, direction: m.direction, data: m.data }) : undefined;
  if (trace !== undefined) wireChannel.subscribe(trace);
  try {
    // A port that cannot be had ends the command before it connects: the client (and the --store
    // opened for it) goes too — left open, the store's Redis connection kept the process running.
    const metrics = metricsPort === undefined ? undefined : await serveMetrics(client, metricsPort).catch((err: unknown) => {
      client.destroy();
      throw err;
    });
    if (metrics !== undefined) line(io, { event: 'metrics', url: `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics` });
    try {
      await connectOrExplain(client, options, io.signal);
      await stopped;
    } finally {
      metrics?.close();
      metrics?.closeAllConnections();
    }
    const before = client.stats();
    line(io, { event: 'stopping', unanswered: before.pending + before.queued + before.waitingRetry });
    // Echoes still unanswered after STOP_MS are reported (as failures) by their own lines above.
    await client.close({ timeoutMs: STOP_MS });
    const s = client.stats();
    line(io, { event: 'closed', upstream: s.upstreamReceived, echoed: sent, acked: s.acked, duplicates_dropped: s.duplicatesDropped });
    return EXIT_OK;
  } finally {
    if (trace !== undefined) wireChannel.unsubscribe(trace);
  }
}

/**
 * `GET /metrics` on 127.0.0.1 (loopback only: the figures are for a local scraper or sidecar, and
 * nothing here is meant for the network), `client.metrics()` as the body.
 */
function serveMetrics(client: CcsClient, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(client.metrics());
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`--metrics-port ${port}: ${err.code ?? err.message}`)));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
