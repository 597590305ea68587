// The wire trace (`ccs:wire`, `ccs echo --trace`): every chunk in and out, real TLS on 127.0.0.1,
// with the SASL payload and the API key redacted — the key, its base64 and the base64 PLAIN
// message never appear, in-process or in a real `ccs echo --trace` process.
import { spawn } from 'node:child_process';
import * as dc from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, WIRE_CHANNEL, wireChannel, type WireTraceMessage } from '../src/index.js';
import { wireRedactor } from '../src/wire-trace.js';
import { API_KEY, SENDER_ID, clientOptions, startScriptedServer } from './helpers/scripted-server.js';

const AUTHCID = `${SENDER_ID}@gcm.googleapis.com`;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
/** Every form in which the key could leak. */
const SECRETS = [API_KEY, b64(API_KEY), b64(`\0${AUTHCID}\0${API_KEY}`)];

function assertNoSecret(text: string): void {
  for (const s of SECRETS) assert.not.ok(text.includes(s), `a secret in the trace: ${s.slice(0, 4)}…`);
}

test('wireRedactor blanks SASL element content, the key and its base64 forms; the rest is untouched', () => {
  const redact = wireRedactor(API_KEY, AUTHCID);
  const auth = `<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">${b64(`\0${AUTHCID}\0${API_KEY}`)}</auth>`;
  assert.is(redact(auth), '<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">[redacted]</auth>');
  assert.is(redact('<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">abc=</response>'), '<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">[redacted]</response>');
  assert.is(redact('<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>'), '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>');
  // A peer echoing the key, raw or in base64, anywhere else.
  assert.is(redact(`<message><gcm>{"k":"${API_KEY}","b":"${b64(API_KEY)}"}</gcm></message>`), '<message><gcm>{"k":"[redacted]","b":"[redacted]"}</gcm></message>');
  const plain = '<message id="m1"><gcm xmlns="google:mobile:data">{"to":"t","message_id":"m1"}</gcm></message>';
  assert.is(redact(plain), plain);
});

test('ccs:wire traces the handshake and the messages in both directions, with the key and the PLAIN payload redacted', async () => {
  const server = await startScriptedServer();
  const seen: WireTraceMessage[] = [];
  const fn = (m: unknown): void => void seen.push(m as WireTraceMessage);
  dc.subscribe(WIRE_CHANNEL, fn);
  const ids = new Set<string>();
  const client = new CcsClient(clientOptions(server, { onUpstream: () => undefined }));
  client.on('online', (e: { connectionId: string }) => ids.add(e.connectionId));
  try {
    await client.connect();
    await client.send({ to: 'tok-w', message_id: 'wire-1', data: { k: 'v' } });
    server.latest().upstream('dev-w', 'wire-up-1', { a: 'b' });
    await server.until(() => server.latest().acks.length === 1, 5000);
  } finally {
    await client.close({ timeoutMs: 1000 });
    dc.unsubscribe(WIRE_CHANNEL, fn);
    await server.stop();
  }
  assert.is(wireChannel.hasSubscribers, false);
  const mine = seen.filter((m) => ids.has(m.connectionId));
  const out = mine.filter((m) => m.direction === 'out').map((m) => m.data).join('');
  const inn = mine.filter((m) => m.direction === 'in').map((m) => m.data).join('');
  assert.match(out, '<stream:stream');
  assert.match(out, /<auth [^>]*mechanism="PLAIN"[^>]*>\[redacted\]<\/auth>/);
  assert.match(out, '"message_id":"wire-1"');
  assert.match(out, '"message_type":"ack"');
  assert.match(out, '"message_id":"wire-up-1"', 'the upstream ACK goes out');
  assert.match(inn, '<stream:features');
  assert.match(inn, '<success');
  assert.match(inn, '"message_id":"wire-up-1"');
  assertNoSecret(out + inn);
});

test('ccs echo --trace prints wire lines in a real process, never the key or its PLAIN payload', async () => {
  const server = await startScriptedServer();
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  try {
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, 'echo', '--host', '127.0.0.1', '--port', String(server.port), '--insecure', '--trace'], {
        env: { CCS_SENDER_ID: SENDER_ID, CCS_API_KEY: API_KEY, PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      void (async () => {
        await server.until(() => server.conns.some((c) => c.online), 10_000);
        server.latest().upstream('dev-t', 'trace-up-1', { x: 'y' });
        await server.until(() => server.received.length === 1, 10_000);
        child.kill('SIGTERM');
      })().catch(() => child.kill('SIGTERM'));
    });
    assert.is(r.code, 0, r.stderr);
    const wire = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>).filter((l) => l['event'] === 'wire');
    assert.ok(wire.some((l) => l['direction'] === 'out' && /<auth [^>]*>\[redacted\]<\/auth>/.test(l['data'] as string)), 'the auth stanza, redacted');
    assert.ok(wire.some((l) => l['direction'] === 'in' && (l['data'] as string).includes('trace-up-1')), 'the upstream message in');
    assert.ok(wire.some((l) => l['direction'] === 'out' && (l['data'] as string).includes('trace-up-1')), 'its echo or ACK out');
    assertNoSecret(r.stdout + r.stderr);
  } finally {
    await server.stop();
  }
});

test.run();
