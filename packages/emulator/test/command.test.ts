import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { generateDevCertificate } from '@ccs-xmpp/stream';
import { EmulatorError, parseCommandLine, runCommand } from '../src/index.js';
import { TestClient } from './helpers/client.js';

const isConfig = (e: unknown): boolean => e instanceof EmulatorError && e.code === 'EMU_ERR_CONFIG';

test('parses every flag into emulator options and faults', () => {
  const line = parseCommandLine([
    '--host', '127.0.0.1', '--port', '0', '--sender-id', 'a', '--sender-id', 'b', '--api-key', 'k1', '--api-key', 'k2',
    '--devices', '3', '--upstream-rate', '2.5', '--seed', '9', '--max-pending-upstream', '7', '--upstream-resend-ms', '50',
    '--reject-unknown-tokens', '--device-max-per-second', '4', '--topic-max-per-second', '5', '--keepalive-ms', '0', '--no-deliveries',
    '--handshake-timeout-ms', '500', '--drain-timeout-ms', '600', '--drain-min-ms', '700', '--max-connections', '8', '--max-queued-upstream', '9',
    '--cut-after', '10', '--cut-probability', '0.1', '--ack-delay', '20', '--service-unavailable-rate', '0.2',
    '--internal-error-rate', '0.3', '--stall', '40', '--tiny-write-size', '3', '--verbose',
  ], {});
  assert.equal(line.options, {
    senders: [{ senderId: 'a', apiKey: 'k1' }, { senderId: 'b', apiKey: 'k2' }],
    faults: { cutAfterStanzas: 10, cutProbability: 0.1, ackDelayMs: 20, serviceUnavailableRate: 0.2, internalErrorRate: 0.3, stallMs: 40, tinyWrites: 3 },
    host: '127.0.0.1', port: 0, devices: 3, upstreamRate: 2.5, seed: 9, maxPendingUpstream: 7, upstreamResendMs: 50,
    deviceMaxPerSecond: 4, topicMaxPerSecond: 5, keepaliveIntervalMs: 0, acceptUnknownTokens: false, keepDeliveries: false,
    handshakeTimeoutMs: 500, drainTimeoutMs: 600, drainMinMs: 700, maxConnections: 8, maxQueuedUpstream: 9,
  });
  assert.is(line.verbose, true);
  assert.equal(parseCommandLine(['--tiny-writes'], {}).options.faults, { tinyWrites: true });
});

test('takes the API key from CCS_API_KEY, one key for all senders', () => {
  const line = parseCommandLine(['--sender-id', 'a', '--sender-id', 'b'], { CCS_API_KEY: 'from-env' });
  assert.equal(line.options.senders, [{ senderId: 'a', apiKey: 'from-env' }, { senderId: 'b', apiKey: 'from-env' }]);
  assert.equal(parseCommandLine([], {}).options.senders, [{ senderId: '1234567890', apiKey: 'emulator-api-key' }]);
});

test('refuses bad flags and values with EMU_ERR_CONFIG, never quoting the key', () => {
  assert.throws(() => parseCommandLine(['--bogus'], {}), isConfig);
  assert.throws(() => parseCommandLine(['--port', 'x'], {}), isConfig);
  assert.throws(() => parseCommandLine(['--port', '-1'], {}), isConfig);
  assert.throws(() => parseCommandLine(['--devices', '1.5'], {}), isConfig);
  assert.throws(() => parseCommandLine(['--cert', 'a.pem'], {}), isConfig);
  assert.throws(() => parseCommandLine(['--cert', '/nonexistent/a', '--key', '/nonexistent/b'], {}), isConfig);
  try {
    parseCommandLine(['--sender-id', 'a', '--sender-id', 'b', '--sender-id', 'c', '--api-key', 'SECRET1', '--api-key', 'SECRET2'], {});
    assert.unreachable();
  } catch (err) {
    assert.ok(isConfig(err));
    assert.not.match((err as Error).message, /SECRET/);
  }
});

test('a value the emulator refuses is named by its flag as typed (or the variable it came from), not by the option', async () => {
  const cases: Array<[string[], Record<string, string>, string]> = [
    [['--port', '99999'], {}, '--port must be an integer 0…65535, got "99999"'],
    [['--admin-port', '70000'], {}, '--admin-port must be an integer 0…65535, got "70000"'],
    // Not a number: the same message (it was "--port needs an integer ≥ 0").
    [['--port', 'abc'], {}, '--port must be an integer 0…65535, got "abc"'],
    [['--port', '1.5'], {}, '--port must be an integer 0…65535, got "1.5"'],
    [['--admin-port', 'x'], {}, '--admin-port must be an integer 0…65535, got "x"'],
    [['--cut-probability', '2'], {}, '--cut-probability must be a number in [0, 1]'],
    // Refused, not created: 10^11 devices ran the process out of memory.
    [['--devices', '99999999999'], {}, '--devices must be at most 100000 per sender'],
    // A timer past Node's limit fires after 1 ms: refused, not taken.
    [['--handshake-timeout-ms', '3000000000'], {}, '--handshake-timeout-ms must be at most 2147483647 ms'],
    [['--keepalive-ms', '3000000000'], {}, '--keepalive-ms must be at most 2147483647 ms'],
    [['--ack-delay', '3000000000'], {}, '--ack-delay must be at most 2147483647 ms'],
    [['--device-state', 'tok=offline@3000000000'], {}, '--device-state\'s @MS must be at most 2147483647 ms, got "tok=offline@3000000000"'],
    [['--offline-share', '2'], {}, '--offline-share must be a number in [0, 1]'],
    [['--offline-share', '0.6', '--idle-share', '0.6'], {}, '--offline-share + --idle-share must be at most 1'],
    [['--port', '0', '--admin-port', '0', '--admin-host', '10.0.0.1'], {}, 'the admin API on 10.0.0.1 (not loopback) needs --admin-token'],
    [['--port', '0', '--admin-port', '0', '--admin-token', 'short'], {}, '--admin-token must be a string of at least 8 characters'],
    [['--port', '0', '--admin-port', '0'], { CCS_EMULATOR_ADMIN_TOKEN: 'short' }, 'CCS_EMULATOR_ADMIN_TOKEN must be a string of at least 8 characters'],
  ];
  for (const [argv, env, message] of cases) {
    const err = await runCommand(argv, { env, out: () => {} }).then(async (running) => {
      await running?.stop();
      return undefined;
    }, (e: unknown) => e);
    assert.ok(isConfig(err), argv.join(' '));
    assert.is((err as Error).message, message, argv.join(' '));
  }
});

test('reads --cert and --key files', () => {
  const files: Record<string, string> = { 'c.pem': 'CERT', 'k.pem': 'KEY' };
  const line = parseCommandLine(['--cert', 'c.pem', '--key', 'k.pem'], {}, (p) => files[p] as string);
  assert.is(line.options.cert, 'CERT');
  assert.is(line.options.key, 'KEY');
});

test('--help prints the usage and starts nothing', async () => {
  const out: string[] = [];
  const running = await runCommand(['--help'], { env: {}, out: (l) => out.push(l) });
  assert.is(running, undefined);
  assert.match(out.join('\n'), /--upstream-rate/);
  assert.match(out.join('\n'), /CCS_API_KEY/);
});

test('runs: prints the listening line with the real port and caFile, events with --verbose, totals on stop', async () => {
  const out: string[] = [];
  const { cert, key } = generateDevCertificate();
  const files: Record<string, string> = { c: cert, k: key };
  const running = await runCommand(['--port', '0', '--devices', '2', '--verbose', '--cert', 'c', '--key', 'k'], {
    env: { CCS_API_KEY: 'env-secret' }, out: (l) => out.push(l), readFile: (p) => files[p] as string,
  });
  assert.ok(running);
  const listening = JSON.parse(out[0]!) as { type: string; host: string; port: number; caFile: string; devices: Record<string, string[]> };
  assert.is(listening.type, 'listening');
  assert.is(listening.host, '127.0.0.1');
  assert.ok(listening.port > 0);
  assert.is(readFileSync(listening.caFile, 'utf8'), cert);
  assert.is(listening.devices['1234567890']?.length, 2);
  const c = await TestClient.connect({ port: listening.port, ca: cert, apiKey: 'env-secret' });
  const token = listening.devices['1234567890']![0]!;
  assert.is((await c.request({ to: token, message_id: 'cli-1' })).kind, 'ack');
  await c.close();
  await running.stop();
  await running.stop();
  assert.not.ok(existsSync(listening.caFile), 'caFile removed at stop');
  const last = JSON.parse(out[out.length - 1]!) as { type: string; downstreamDelivered: number };
  assert.is(last.type, 'stopped');
  assert.is(last.downstreamDelivered, 1);
  assert.ok(out.some((l) => l.includes('"type":"bind"')));
  assert.not.match(out.join('\n'), /env-secret/);
});

test.run();
