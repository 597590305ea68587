import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, xml } from '@ccs-xmpp/stream';
import { pingIq, readStreamFeatures, readIq } from '@ccs-xmpp/stanza';
import { SaslFailureError } from '@ccs-xmpp/sasl';
import { CcsEmulator, type EmulatorEvent } from '../src/index.js';
import { STREAM_ATTRS, TestClient, until } from './helpers/client.js';

async function withEmulator(fn: (emu: CcsEmulator) => Promise<void>, options: ConstructorParameters<typeof CcsEmulator>[0] = {}): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 7, ...options });
  await emu.start();
  try {
    await fn(emu);
  } finally {
    await emu.stop();
  }
}

test('offers X-OAUTH2, X-GOOGLE-TOKEN and PLAIN, then binds SENDER@gcm.googleapis.com/RESOURCE', () =>
  withEmulator(async (emu) => {
    const pre = await TestClient.connect({ port: emu.port, ca: emu.ca, noAuth: true });
    const features = readStreamFeatures(pre.received[0]!);
    assert.equal(features?.mechanisms, ['X-OAUTH2', 'X-GOOGLE-TOKEN', 'PLAIN']);
    await pre.close();
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca, resource: 'r1', session: true });
    assert.is(c.jid, '1234567890@gcm.googleapis.com/r1');
    const session = c.received.find((el) => el.attr('id') === 'sess-1');
    assert.is(session?.attr('type'), 'result');
    const info = emu.connections().find((x) => x.jid === c.jid);
    assert.ok(info);
    assert.is(info.senderId, '1234567890');
    assert.is(info.draining, false);
    await c.close();
  }));

test('a bind without resource gets a server-chosen one', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    assert.match(c.jid ?? '', /^1234567890@gcm\.googleapis\.com\/[0-9a-f]{16}$/);
    await c.close();
  }));

test('authenticates several senders, each against its own API key', () =>
  withEmulator(async (emu) => {
    const a = await TestClient.connect({ port: emu.port, ca: emu.ca, senderId: '111', apiKey: 'key-a' });
    const b = await TestClient.connect({ port: emu.port, ca: emu.ca, senderId: '222', apiKey: 'key-b' });
    assert.match(a.jid ?? '', /^111@/);
    assert.match(b.jid ?? '', /^222@/);
    try {
      await TestClient.connect({ port: emu.port, ca: emu.ca, senderId: '111', apiKey: 'key-b' });
      assert.unreachable('wrong key accepted');
    } catch (err) {
      assert.instance(err, SaslFailureError);
      assert.is((err as SaslFailureError).condition, 'not-authorized');
    }
    try {
      await TestClient.connect({ port: emu.port, ca: emu.ca, senderId: '333', apiKey: 'key-a' });
      assert.unreachable('unknown sender accepted');
    } catch (err) {
      assert.is((err as SaslFailureError).condition, 'not-authorized');
    }
    await a.close();
    await b.close();
  }, { senders: [{ senderId: '111', apiKey: 'key-a' }, { senderId: '222', apiKey: 'key-b' }] }));

test('answers XEP-0199 pings and refuses unknown IQs with service-unavailable', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    c.conn.send(pingIq('p1'));
    const pong = readIq(await c.waitFor((el) => el.attr('id') === 'p1'));
    assert.is(pong?.type, 'result');
    c.conn.send(xml('iq', { type: 'get', id: 'q1' }, xml('query', { xmlns: 'jabber:iq:version' })));
    const err = readIq(await c.waitFor((el) => el.attr('id') === 'q1'));
    assert.is(err?.type, 'error');
    assert.is(err?.error?.condition, 'service-unavailable');
    // A second bind is not allowed.
    c.conn.send(xml('iq', { type: 'set', id: 'b2' }, xml('bind', { xmlns: 'urn:ietf:params:xml:ns:xmpp-bind' })));
    const again = readIq(await c.waitFor((el) => el.attr('id') === 'b2'));
    assert.is(again?.error?.condition, 'not-allowed');
    await c.close();
  }));

test('a message before authentication gets a not-authorized stream error and a close', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca, noAuth: true });
    c.sendRaw('<message><gcm xmlns="google:mobile:data">{}</gcm></message>');
    const err = await c.closed;
    assert.is(err?.condition, 'not-authorized');
  }));

test('a message before bind gets a not-authorized stream error', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca, noBind: true });
    c.sendRaw('<message><gcm xmlns="google:mobile:data">{}</gcm></message>');
    const err = await c.closed;
    assert.is(err?.condition, 'not-authorized');
  }));

test('an unknown top-level element gets unsupported-stanza-type; malformed XML gets not-well-formed', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    c.sendRaw('<foo/>');
    assert.is((await c.closed)?.condition, 'unsupported-stanza-type');
    const d = await TestClient.connect({ port: emu.port, ca: emu.ca });
    d.sendRaw('<message><a></b></message>');
    assert.is((await d.closed)?.condition, 'not-well-formed');
  }));

test('a stream to another domain gets host-unknown', () =>
  withEmulator(async (emu) => {
    let closeCondition: string | undefined;
    const conn = await connect({ host: '127.0.0.1', port: emu.port, ca: emu.ca, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza: () => {},
      onClose: (err) => {
        closeCondition = err?.condition;
      },
    });
    conn.openStream({ ...STREAM_ATTRS, to: 'example.com' });
    await conn.closed;
    assert.is(closeCondition, 'host-unknown');
  }));

test('three failed authentications close the stream with policy-violation', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca, noAuth: true });
    const auth = `<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">${Buffer.from('\u00001234567890@gcm.googleapis.com\u0000nope').toString('base64')}</auth>`;
    for (let i = 0; i < 2; i++) {
      c.sendRaw(auth);
      const failure = await c.waitFor((el) => el.local === 'failure');
      assert.ok(failure.getChild('not-authorized'));
    }
    c.sendRaw(auth);
    assert.is((await c.closed)?.condition, 'policy-violation');
  }));

test('emits connection, auth, bind and close events without the API key', () =>
  withEmulator(async (emu) => {
    const events: EmulatorEvent[] = [];
    emu.on('event', (e: EmulatorEvent) => events.push(e));
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    await c.close();
    await until(() => events.some((e) => e.type === 'close'));
    const types = events.map((e) => e.type);
    for (const t of ['connection', 'auth', 'bind', 'close'] as const) assert.ok(types.includes(t), t);
    assert.not.match(JSON.stringify(events), /emulator-api-key/);
  }));

test('serves many concurrent connections', () =>
  withEmulator(async (emu) => {
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => TestClient.connect({ port: emu.port, ca: emu.ca, resource: `c${i}` })));
    assert.is(emu.connections().filter((c) => c.jid).length, 20);
    const answers = await Promise.all(clients.map((c, i) => c.request({ to: 'tok', message_id: `m-${i}` })));
    assert.ok(answers.every((a) => a.kind === 'ack'));
    await Promise.all(clients.map((c) => c.close()));
  }));

test('stop() closes every connection with a stream close and resolves when the sockets are gone', async () => {
  const emu = new CcsEmulator({ port: 0 });
  await emu.start();
  const a = await TestClient.connect({ port: emu.port, ca: emu.ca });
  const b = await TestClient.connect({ port: emu.port, ca: emu.ca, noAuth: true });
  await emu.stop();
  await Promise.all([a.closed, b.closed]);
  // A clean stream close: no stream error, no socket error.
  assert.is(a.closeError, undefined);
  assert.is(b.closeError, undefined);
  assert.equal(emu.connections(), []);
  await emu.stop();
});

test('sends whitespace keepalives between stanzas on an idle connection', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 3, keepaliveIntervalMs: 40 });
  await emu.start();
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const before = c.raw.length;
    await new Promise((r) => setTimeout(r, 250));
    const idle = c.raw.slice(before);
    assert.ok(idle.length >= 2 && /^ +$/.test(idle), `only spaces while idle, got ${JSON.stringify(idle)}`);
    assert.is((await c.request({ to: 'tok', message_id: 'ka' })).kind, 'ack', 'the stream is still fine');
    await c.close();
  } finally {
    await emu.stop();
  }
});

test.run();
