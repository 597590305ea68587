import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, type CliIo } from '../src/internal.js';
import { API_KEY, SENDER_ID, startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const ENV = { CCS_SENDER_ID: SENDER_ID, CCS_API_KEY: API_KEY };

function io(argv: string[], env: Record<string, string> = ENV, signal?: AbortSignal): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    argv, env, out, err, ...(signal ? { signal } : {}),
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
  };
}

const conn = (s: ScriptedServer): string[] => ['--host', '127.0.0.1', '--port', String(s.port), '--insecure'];

test('ccs send prints the ACK as one JSON line and exits 0', async () => {
  const server = await startScriptedServer({ onDownstream: (c, m) => c.ack(m['message_id'] as string, { registration_id: 'canon' }) });
  try {
    const x = io(['send', ...conn(server), '--to', 'tok', '--data', '{"k":"v"}', '--ttl', '60', '--collapse-key', 'ck', '--priority', 'high', '--dry-run', '--message-id', 'cli-1', '--delivery-receipt', '--content-available']);
    assert.is(await runCli(x), 0);
    assert.is(x.out.length, 1);
    assert.equal(JSON.parse(x.out[0]!), { event: 'ack', message_id: 'cli-1', from: 'tok', registration_id: 'canon', retries: 0 });
    assert.equal(server.received[0]?.msg, {
      to: 'tok', data: { k: 'v' }, time_to_live: 60, collapse_key: 'ck', priority: 'high', dry_run: true,
      delivery_receipt_requested: true, content_available: true, message_id: 'cli-1',
    });
  } finally {
    await server.stop();
  }
});

test('ccs send prints the NACK and exits non-zero', async () => {
  const server = await startScriptedServer({ onDownstream: (c, m) => c.nack(m['message_id'] as string, 'DEVICE_UNREGISTERED') });
  try {
    const x = io(['send', ...conn(server), '--condition', "'a' in topics", '--notification', '{"title":"t"}']);
    assert.is(await runCli(x), 1);
    const r = JSON.parse(x.out[0]!);
    assert.is(r.event, 'nack');
    assert.is(r.code, 'DEVICE_UNREGISTERED');
    assert.is(r.retry_class, 'never');
  } finally {
    await server.stop();
  }
});

test('ccs send reports an invalid message without connecting', async () => {
  const x = io(['send', '--host', '127.0.0.1', '--port', '1', '--to', 'tok', '--data', '{"from":"x"}']);
  assert.is(await runCli(x), 2);
  const r = JSON.parse(x.out[0]!);
  assert.is(r.event, 'invalid');
  assert.is(r.field, 'data.from');
  assert.is(x.err.length, 0);
});

test('bad arguments and missing credentials fail with one human line, no stack, no key', async () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['send', '--to', 't'], {}, /CCS_SENDER_ID and CCS_API_KEY/],
    [['send'], ENV, /exactly one of --to and --condition/],
    [['send', '--to', 'a', '--condition', 'b'], ENV, /exactly one/],
    [['send', '--to', 't', '--data', '{'], ENV, /--data is not valid JSON/],
    [['send', '--to', 't', '--data', '[1]'], ENV, /--data must be a JSON object/],
    [['send', '--to', 't', '--ttl', 'soon'], ENV, /--ttl must be an integer/],
    [['send', '--to', 't', '--priority', 'max'], ENV, /--priority/],
    [['send', '--to', 't', '--port', 'x'], ENV, /--port/],
    [['send', '--to', 't', '--ca', '/nonexistent/ca.pem'], ENV, /cannot read --ca/],
    [['send', '--to', 't', '--api-key', 'k'], ENV, /Unknown option/],
    [['frobnicate'], ENV, /unknown command/],
    [['echo', '--connections', '0'], ENV, /--connections/],
    // Refused by the client rather than by the CLI's own checks: still a bad argument (exit 2, not 1).
    // Named as the user typed it (the flag, or the variable it came from), not as the client's option.
    [['send', '--to', 't', '--host', '127.0.0.1', '--port', '99999'], ENV, /: --port must be an integer from 1 to 65535, got 99999\b/],
    [['send', '--to', 't', '--host', '127.0.0.1'], { ...ENV, CCS_PORT: '70000' }, /: CCS_PORT must be an integer from 1 to 65535, got 70000\b/],
    [['echo', '--host', '127.0.0.1', '--max-pending', '99999999999999999999'], ENV, /: --max-pending must be an integer from 1 to/],
    [['echo', '--host', '127.0.0.1', '--connections', '99999999999999999999'], ENV, /: --connections must be an integer from 1 to/],
  ];
  for (const [argv, env, re] of cases) {
    const x = io(argv, env);
    assert.is(await runCli(x), 2, argv.join(' '));
    assert.is(x.err.length, 1, argv.join(' '));
    assert.match(x.err[0]!, re);
    assert.not.match(x.err[0]!, /\n.+/);
    assert.not.ok(x.err[0]!.includes('    at '));
  }
  const h = io(['help']);
  assert.is(await runCli(h), 0);
  assert.match(h.out[0]!, /usage: ccs/);
  assert.is(await runCli(io([])), 2);
  assert.is(await runCli(io(['send', '--help'])), 0);
  assert.is(await runCli(io(['echo', '-h'])), 0);
});

test('a failed connection is one line naming the step; the key never appears', async () => {
  const server = await startScriptedServer();
  try {
    const x = io(['send', ...conn(server), '--to', 't'], { CCS_SENDER_ID: SENDER_ID, CCS_API_KEY: 'not-the-key-xyz' });
    assert.is(await runCli(x), 2);
    assert.match(x.err[0]!, /step auth/);
    assert.match(x.err[0]!, /not-authorized/);
    assert.not.ok(x.err.join('').includes('not-the-key-xyz'));
    const y = io(['send', '--host', '127.0.0.1', '--port', String(server.port), '--servername', 'localhost', '--to', 't']);
    assert.is(await runCli(y), 2, 'self-signed refused without --insecure or --ca');
    assert.match(y.err[0]!, /step tls/);
  } finally {
    await server.stop();
  }
});

test('ccs echo ACKs each upstream message, sends its data back, and closes on the signal', async () => {
  const server = await startScriptedServer();
  const ac = new AbortController();
  const dir = mkdtempSync(join(tmpdir(), 'ccs-cli-'));
  try {
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, server.ca);
    const x = io(['echo', '--host', '127.0.0.1', '--port', String(server.port), '--ca', caFile, '--servername', 'localhost'], ENV, ac.signal);
    const running = runCli(x);
    await server.until(() => server.conns.some((c) => c.online));
    const c = server.latest();
    c.upstream('device-1', 'up-1', { hello: 'back' });
    c.receipt('m-9');
    await server.until(() => server.received.length === 1 && c.acks.length === 2);
    assert.equal(server.received[0]!.msg['to'], 'device-1');
    assert.equal(server.received[0]!.msg['data'], { hello: 'back' });
    await server.until(() => x.out.some((l) => l.includes('"event":"ack"')));
    c.drain();
    await server.until(() => x.out.some((l) => l.includes('"event":"draining"')));
    ac.abort();
    assert.is(await running, 0);
    const events = x.out.map((l) => JSON.parse(l).event as string);
    for (const e of ['connected', 'upstream', 'receipt', 'ack', 'draining', 'closed']) assert.ok(events.includes(e), `${e} in ${events.join(',')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.stop();
  }
});

function runProcess(args: string[], env: Record<string, string>, onSpawn?: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...env, PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    onSpawn?.(child);
  });
}

test('the ccs bin runs as a real process: send prints the ACK and exits 0', async () => {
  const server = await startScriptedServer();
  try {
    const r = await runProcess(['send', ...conn(server), '--to', 'tok', '--data', '{"k":"v"}'], ENV);
    assert.is(r.stderr, '');
    assert.is(r.code, 0);
    const lines = r.stdout.trim().split('\n');
    assert.is(lines.length, 1);
    assert.is(JSON.parse(lines[0]!).event, 'ack');
  } finally {
    await server.stop();
  }
});

test('the ccs bin: echo stops gracefully on SIGTERM; a refused connection exits non-zero with one line', async () => {
  const server = await startScriptedServer();
  try {
    const r = await runProcess(['echo', ...conn(server)], ENV, (child) => {
      void server.until(() => server.conns.some((c) => c.online), 5000).then(() => child.kill('SIGTERM'));
    });
    assert.is(r.code, 0);
    assert.ok(r.stdout.includes('"event":"closed"'));
    const port = server.port;
    await server.stop();
    const bad = await runProcess(['send', '--host', '127.0.0.1', '--port', String(port), '--to', 't'], ENV);
    assert.is(bad.code, 2);
    assert.is(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /^ccs: cannot connect/);
  } finally {
    await server.stop().catch(() => {});
  }
});

test('the ccs bin: echo --metrics-port serves client.metrics() at /metrics on 127.0.0.1 while it runs', async () => {
  const server = await startScriptedServer();
  try {
    let url = '';
    let body = '';
    let notFound = 0;
    let contentType = '';
    const r = await runProcess(['echo', ...conn(server), '--metrics-port', '0'], ENV, (child) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"event":"metrics","url":"([^"]+)"/.exec(out);
        if (m && url === '') {
          url = m[1] as string;
          void (async () => {
            await server.until(() => server.conns.some((c) => c.online), 5000);
            // An upstream message, echoed back and ACKed by the server (it ACKs by default): the counters move.
            server.latest().upstream('dev-m', 'up-m1', { k: 'v' });
            await server.until(() => server.received.length === 1, 5000);
            for (let i = 0; i < 200 && !/^ccs_acked_total 1$/m.test(body); i++) {
              const res = await fetch(url);
              contentType = res.headers.get('content-type') ?? '';
              body = await res.text();
              if (!/^ccs_acked_total 1$/m.test(body)) await new Promise((w) => setTimeout(w, 25));
            }
            notFound = (await fetch(url.replace('/metrics', '/other'))).status;
            child.kill('SIGTERM');
          })().catch(() => child.kill('SIGTERM'));
        }
      });
    });
    assert.is(r.code, 0, r.stderr);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.match(contentType, 'text/plain; version=0.0.4');
    assert.match(body, /^# TYPE ccs_acked_total counter$/m);
    assert.match(body, /^ccs_acked_total 1$/m);
    assert.match(body, /^ccs_sent_total 1$/m);
    assert.match(body, /^ccs_upstream_received_total 1$/m);
    assert.match(body, /^ccs_connections\{state="online"\} 1$/m);
    assert.match(body, /^ccs_ack_latency_seconds_count 1$/m);
    assert.is(notFound, 404);
    assert.not.ok(body.includes(API_KEY), 'no key in the metrics');
  } finally {
    await server.stop();
  }
});

test('`npx ccs` works from the repository root: npm links the bin, which runs the built CLI', async () => {
  // dist/test → package → packages → repository root. The bin is a committed shim, so `npm ci`
  // links it before anything is built (npm silently skips a bin whose file does not exist).
  const bin = fileURLToPath(new URL('../../../../node_modules/.bin/ccs', import.meta.url));
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'usage: ccs');
});

test.run();
