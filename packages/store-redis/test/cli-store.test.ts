// The `ccs` CLI with `--store redis://…` as a real process: an option the client refuses is a bad
// argument (exit 2) and the store opened for it is let go, so the process ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { redisSuite, until } from './helpers/redis-suite.js';

const CCS_BIN = fileURLToPath(new URL('../../../ccs/bin/ccs.js', import.meta.url));

/** Runs the CLI; SIGKILLed after `killAfterMs` (a process that hangs shows as signal SIGKILL). */
function run(args: string[], killAfterMs: number, env: Record<string, string> = {}, started?: (child: ChildProcess) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CCS_BIN, ...args], {
      env: { PATH: process.env['PATH'] ?? '', CCS_SENDER_ID: '1234567890', CCS_API_KEY: 'cli-store-test-key', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
    started?.(child);
  });
}

/**
 * True once some process holds an established TCP connection to 127.0.0.1:`port` (from
 * /proc/net/tcp): a stopped Redis's kernel still accepts, so this says the CLI's store is
 * connecting — its signal handlers are in place — without asking Redis anything.
 */
function connectedTo(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).some((row) => {
    const f = row.trim().split(/\s+/);
    return f[2] === `0100007F:${hexPort}` && f[3] === '01';
  });
}

const s = redisSuite('ccs CLI with --store');

for (const command of ['send', 'echo'] as const) {
  s.test(`ccs ${command} --store with an option the client refuses (--port 99999): one line, exit 2, and the process ends`, async (redis) => {
    const args = [command, ...(command === 'send' ? ['--to', 'tok'] : []), '--host', '127.0.0.1', '--port', '99999', '--store', redis.url];
    const r = await run(args, 8000);
    assert.is(r.signal, null, `the process did not end by itself (stderr: ${r.stderr})`);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /^ccs: --port must be an integer from 1 to 65535, got 99999\n$/);
  });
}

s.test('ccs echo --store with a --metrics-port already taken: one line, exit 2, and the process ends', async (redis) => {
  // The Redis server's own port is one that is surely taken.
  const r = await run(['echo', '--host', '127.0.0.1', '--port', '5', '--metrics-port', String(redis.port), '--store', redis.url], 8000);
  assert.is(r.signal, null, `the process did not end by itself (stderr: ${r.stderr})`);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /^ccs: --metrics-port \d+: EADDRINUSE\n$/);
});

s.test('ccs echo --store with a URL that cannot be parsed: one line without the password, exit 2', async () => {
  const r = await run(['echo', '--host', '127.0.0.1', '--port', '5', '--store', 'redis://u:s3cret-pw@127.0.0.1:notaport'], 8000);
  assert.is(r.signal, null, `the process did not end by itself (stderr: ${r.stderr})`);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /^ccs: cannot use the --store: the URL is not a valid URL[^\n]*\n$/);
  assert.not.match(r.stderr, /s3cret/);
});

s.test('ccs echo --store with a sender ID the store cannot key by: named as CCS_SENDER_ID (the store calls it senderId), exit 2', async (redis) => {
  const r = await run(['echo', '--host', '127.0.0.1', '--port', '5', '--store', redis.url], 8000, { CCS_SENDER_ID: '12{3' });
  assert.is(r.signal, null, `the process did not end by itself (stderr: ${r.stderr})`);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /^ccs: cannot use the --store: CCS_SENDER_ID must be a non-empty string without braces or whitespace[^\n]*\n$/);
});

for (const command of ['send', 'echo'] as const) {
  s.test(`ccs ${command} --store against a Redis that accepts the connection and never answers (SIGSTOP): one line naming the store without its password, exit 2, within --store-timeout`, async (redis) => {
    const pid = redis.pid as number;
    const url = redis.url.replace('redis://', 'redis://:s3cret-pw@');
    process.kill(pid, 'SIGSTOP');
    try {
      const args = [command, ...(command === 'send' ? ['--to', 'tok'] : []), '--host', '127.0.0.1', '--port', '5', '--store', url, '--store-timeout', '800'];
      const started = Date.now();
      const r = await run(args, 8000);
      const took = Date.now() - started;
      assert.is(r.signal, null, `the process hung on the store (stderr: ${r.stderr})`);
      assert.is(r.code, 2, r.stderr);
      assert.match(r.stderr, /^ccs: cannot use the --store redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: Redis did not answer within 800 ms [^\n]*--store-timeout[^\n]*\n$/);
      assert.not.match(r.stderr, /s3cret/);
      // Node's start and the import take about 0.5 s; the dropped connections must not hold the process after.
      assert.ok(took < 2500, `took ${took} ms with --store-timeout 800`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
}

for (const command of ['send', 'echo'] as const) {
  s.test(`ccs ${command} --store: the first SIGINT while Redis does not answer (SIGSTOP) cuts the store wait — one line naming the store without its password, exit 1, long before --store-timeout`, async (redis) => {
    const pid = redis.pid as number;
    const url = redis.url.replace('redis://', 'redis://:s3cret-pw@');
    process.kill(pid, 'SIGSTOP');
    try {
      const args = [command, ...(command === 'send' ? ['--to', 'tok'] : []), '--host', '127.0.0.1', '--port', '5', '--store', url, '--store-timeout', '20000'];
      let interruptedAt = 0;
      const r = await run(args, 15_000, {}, (child) => {
        void until(() => connectedTo(redis.port), 'the CLI connecting to the stopped Redis', 10_000).then(() => {
          interruptedAt = Date.now();
          child.kill('SIGINT');
        }, () => child.kill('SIGKILL'));
      });
      const took = Date.now() - interruptedAt;
      assert.ok(interruptedAt > 0, `never saw the CLI connect (stderr: ${r.stderr})`);
      assert.is(r.signal, null, `the process did not end by itself (stderr: ${r.stderr})`);
      assert.is(r.code, 1, r.stderr);
      assert.match(r.stderr, /^ccs: stopped while waiting for the --store redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: Redis had not answered\n$/);
      assert.not.match(r.stderr, /s3cret/);
      assert.ok(took < 1500, `the process ended ${took} ms after SIGINT (--store-timeout 20000)`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
}

s.test('ccs send --store-timeout past the store\'s own readyTimeoutMs default (10 s) is the wait: a Redis that answers after 12 s is used, not refused by the store', async (redis) => {
  const pid = redis.pid as number;
  process.kill(pid, 'SIGSTOP');
  let stopped = true;
  const resume = setTimeout(() => {
    process.kill(pid, 'SIGCONT');
    stopped = false;
  }, 12_000);
  try {
    // Past the store, the command goes on to CCS on port 5, where nothing listens: a connect failure, exit 2.
    const r = await run(['send', '--to', 'tok', '--host', '127.0.0.1', '--port', '5', '--store', redis.url, '--store-timeout', '20000'], 25_000);
    assert.is(r.signal, null, `the process did not end by itself (stderr: ${r.stderr})`);
    assert.not.match(r.stderr, /store|Redis/, 'the store was waited for and used');
    assert.is(r.code, 2, r.stderr);
  } finally {
    clearTimeout(resume);
    if (stopped) process.kill(pid, 'SIGCONT');
  }
});

s.test('ccs echo --store-timeout that is not a positive integer (or past the timer limit) is a bad argument, exit 2', async (redis) => {
  for (const [value, message] of [['0', /^ccs: --store-timeout must be an integer >= 1, got "0"\n$/], ['2147483648', /^ccs: --store-timeout must be at most 2147483647, got "2147483648"\n$/]] as const) {
    const r = await run(['echo', '--host', '127.0.0.1', '--port', '5', '--store', redis.url, '--store-timeout', value], 8000);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

s.run();
