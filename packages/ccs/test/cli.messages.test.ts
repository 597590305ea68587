// What `ccs` says when something is wrong, one message per case as a user meets it: negative numbers,
// missing credentials, broken JSON, a certificate the client does not trust, and no host (Google's
// endpoint is gone). Each is one line on stderr, exit 2, before any connection when it can be.
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, type CliIo } from '../src/internal.js';

const ENV = { CCS_SENDER_ID: '1234567890', CCS_API_KEY: 'emulator-api-key', CCS_HOST: '127.0.0.1' };
// A port nothing listens on: the cases below must fail before connecting, or they would hang/refuse.
const NOWHERE = ['--host', '127.0.0.1', '--port', '1'];

function io(argv: string[], env: Record<string, string> = ENV): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { argv, env, out, err, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
}

/** Runs `ccs`, expects exit 2 and exactly one stderr line; returns that line. */
async function usageLine(argv: string[], env?: Record<string, string>): Promise<string> {
  const x = io(argv, env);
  assert.is(await runCli(x), 2, argv.join(' '));
  assert.is(x.err.length, 1, `${argv.join(' ')}: ${x.err.join('')}`);
  const line = x.err[0] as string;
  assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'one line');
  return line;
}

test('negative numbers get the range message, not "argument is ambiguous"', async () => {
  const cases: Array<[string[], string]> = [
    [['send', ...NOWHERE, '--to', 't', '--ttl', '-1'], 'ccs: --ttl must be an integer >= 0, got "-1"\n'],
    [['send', ...NOWHERE, '--to', 't', '--time-to-live', '-600'], 'ccs: --time-to-live must be an integer >= 0, got "-600"\n'],
    [['send', ...NOWHERE, '--to', 't', '--timeout', '-5'], 'ccs: --timeout must be an integer >= 1, got "-5"\n'],
    [['send', '--host', '127.0.0.1', '--port', '-1', '--to', 't'], 'ccs: --port must be an integer from 1 to 65535, got "-1"\n'],
    [['echo', ...NOWHERE, '--connections', '-2'], 'ccs: --connections must be an integer >= 1, got "-2"\n'],
    [['echo', ...NOWHERE, '--max-pending', '-0.5'], 'ccs: --max-pending must be an integer >= 1, got "-0.5"\n'],
  ];
  for (const [argv, message] of cases) assert.is(await usageLine(argv), message);
  // A value that only looks like an option is still refused as one.
  assert.match(await usageLine(['send', ...NOWHERE, '--to', 't', '--ttl', '-x']), /--ttl/);
});

test('a missing CCS_SENDER_ID or CCS_API_KEY is named', async () => {
  const argv = ['send', ...NOWHERE, '--to', 't'];
  const noSender = await usageLine(argv, { CCS_API_KEY: 'k' });
  assert.match(noSender, /^ccs: CCS_SENDER_ID is not set: /);
  assert.not.match(noSender, /CCS_API_KEY/);
  const noKey = await usageLine(argv, { CCS_SENDER_ID: '1', CCS_API_KEY: '' });
  assert.match(noKey, /^ccs: CCS_API_KEY is not set: /);
  assert.not.match(noKey, /CCS_SENDER_ID/);
  assert.match(await usageLine(['echo'], {}), /^ccs: CCS_SENDER_ID and CCS_API_KEY are not set: /);
});

test('--data and --notification say where the JSON breaks', async () => {
  assert.is(
    await usageLine(['send', ...NOWHERE, '--to', 't', '--data', '{"hello":']),
    'ccs: --data is not valid JSON: at character 10 (the text ends there): expected a value, after {"hello":\n',
  );
  assert.is(
    await usageLine(['send', ...NOWHERE, '--to', 't', '--notification', '{"title" "x"}']),
    `ccs: --notification is not valid JSON: at character 10 (found "\\""): expected ':' after the property name, after {"title" \n`,
  );
});

test('an invalid message without --message-id prints no message_id (none was sent); with one, prints it', async () => {
  const x = io(['send', ...NOWHERE, '--to', 'tok', '--data', '{"from":"x"}']);
  assert.is(await runCli(x), 2);
  const r = JSON.parse(x.out[0] as string) as Record<string, unknown>;
  assert.equal(Object.keys(r), ['event', 'code', 'reason', 'field', 'description']);
  assert.is(r['field'], 'data.from');
  assert.not.ok(x.out[0]?.includes('"message_id"'));
  const y = io(['send', ...NOWHERE, '--to', 'tok', '--data', '{"from":"x"}', '--message-id', 'mine-1']);
  assert.is(await runCli(y), 2);
  assert.is((JSON.parse(y.out[0] as string) as Record<string, unknown>)['message_id'], 'mine-1');
});

test('no --host and no CCS_HOST: says Google\'s endpoint is gone and what to use, without connecting', async () => {
  const { CCS_HOST: _, ...noHost } = ENV;
  const started = Date.now();
  const line = await usageLine(['send', '--to', 't'], noHost);
  assert.match(line, /^ccs: no --host given and CCS_HOST is not set: Google's CCS endpoint \(gcm\.googleapis\.com\) was shut down/);
  assert.match(line, /npx ccs-emulator --port 0/);
  assert.match(line, /--ca/);
  assert.not.match(line, /ENOTFOUND/);
  assert.ok(Date.now() - started < 30_000, 'no DNS lookup or connection attempt was waited for');
  assert.match(await usageLine(['echo'], noHost), /no --host given and CCS_HOST is not set/);
  const help = io(['help']);
  assert.is(await runCli(help), 0);
  assert.match(help.out.join(''), /Google shut down CCS/);
});

test('a bad --port or CCS_PORT gets one message, naming what the user set, whatever is wrong with it', async () => {
  const cases: Array<[string[], Record<string, string>, string]> = [
    [['--port', 'abc'], {}, 'ccs: --port must be an integer from 1 to 65535, got "abc"\n'],
    [['--port', '0'], {}, 'ccs: --port must be an integer from 1 to 65535, got 0\n'],
    [['--port', '99999'], {}, 'ccs: --port must be an integer from 1 to 65535, got 99999\n'],
    // From the environment: named CCS_PORT alike for a non-number and for one out of range
    // ("--port (CCS_PORT) must be an integer >= 1" for abc, "CCS_PORT must be … 65535" for 99999).
    [[], { CCS_PORT: 'abc' }, 'ccs: CCS_PORT must be an integer from 1 to 65535, got "abc"\n'],
    [[], { CCS_PORT: '1.5' }, 'ccs: CCS_PORT must be an integer from 1 to 65535, got "1.5"\n'],
    [[], { CCS_PORT: '0' }, 'ccs: CCS_PORT must be an integer from 1 to 65535, got 0\n'],
    [[], { CCS_PORT: '99999' }, 'ccs: CCS_PORT must be an integer from 1 to 65535, got 99999\n'],
    // The flag wins over the variable, in the message too.
    [['--port', 'x'], { CCS_PORT: '5235' }, 'ccs: --port must be an integer from 1 to 65535, got "x"\n'],
  ];
  for (const [argv, env, message] of cases) {
    assert.is(await usageLine(['send', '--host', '127.0.0.1', '--to', 't', ...argv], { ...ENV, ...env }), message, JSON.stringify([argv, env]));
  }
});

test('an empty --host (or a blank CCS_HOST) is called empty, not missing, and nothing is looked up', async () => {
  const empty = await usageLine(['send', '--host', '', '--to', 't']);
  assert.match(empty, /^ccs: --host is empty: point --host at a CCS-compatible server, e\.g\. a local emulator: run `npx ccs-emulator --port 0`/);
  assert.not.match(empty, /no --host given/);
  assert.match(await usageLine(['echo', '--host', '  ']), /^ccs: --host is empty: /);
  const { CCS_HOST: _, ...noHost } = ENV;
  const blank = await usageLine(['send', '--to', 't'], { ...noHost, CCS_HOST: ' ' });
  assert.match(blank, /^ccs: CCS_HOST is empty: /);
  assert.not.match(blank, /ENOTFOUND|cannot connect/);
  // An empty variable is an unset one (as CCS_PORT= is): the no-host message.
  assert.match(await usageLine(['send', '--to', 't'], { ...noHost, CCS_HOST: '' }), /^ccs: no --host given and CCS_HOST is not set/);
});

test('a certificate error against a local emulator hints at --ca with its caFile; CCS_HOST and --ca then work', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 3, keepaliveIntervalMs: 0 });
  await emu.start();
  try {
    const port = String(emu.port);
    const untrusted = await usageLine(['send', '--host', '127.0.0.1', '--port', port, '--to', 'device-1']);
    assert.match(untrusted, /step tls/);
    assert.match(untrusted, /for a local ccs-emulator, pass --ca with the caFile of its listening line/);
    assert.not.match(untrusted, /emulator-api-key/);
    const wrongName = await usageLine(['send', '--host', '127.0.0.1', '--port', port, '--ca', emu.caFile, '--servername', 'ccs.example', '--to', 'device-1']);
    assert.match(wrongName, /certificate is for localhost and 127\.0\.0\.1/);
    // The hint's advice, followed: the host from CCS_HOST, the CA from the emulator's caFile.
    const ok = io(['send', '--port', port, '--ca', emu.caFile, '--to', 'device-1']);
    assert.is(await runCli(ok), 0, ok.err.join(''));
    assert.is((JSON.parse(ok.out[0] as string) as Record<string, unknown>)['event'], 'ack');
  } finally {
    await emu.stop();
  }
});

test.run();
