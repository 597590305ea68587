/**
 * Interop: a third-party XMPP client, `@xmpp/client` 0.14 (xmpp.js, a dev dependency), as a CCS app
 * server against this project's `CcsEmulator` on 127.0.0.1: direct TLS, SASL PLAIN, bind,
 * downstream messages with their ACKs/NACKs, upstream messages ACKed back, and how it fails
 * (wrong key; non-ASCII keys, which it cannot encode). Findings are in test/README.md.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { client, xml, type Client } from '@xmpp/client';
import { CcsEmulator, type EmulatorEvent } from '@ccs-xmpp/emulator';
import { captureStrayXmppjsRejections, GcmInbox, gcmStanza, stopClient, trustEmulatorTls } from '../lib/xmppjs.js';

const SENDER = '1234567890';
const KEY = 'emulator-api-key';
// A key with characters beyond Latin-1 (btoa throws on them) and one within Latin-1 but not ASCII
// (btoa encodes them as single bytes: not the UTF-8 RFC 4616 requires).
const SENDER_UTF8 = '2222222222';
const KEY_UTF8 = 'clé 🔑 密钥';
const SENDER_LATIN1 = '3333333333';
const KEY_LATIN1 = 'pässwörd';
const DOMAIN = 'gcm.googleapis.com';
const UPSTREAM_RESEND_MS = 300;

const test = suite('xmpp.js (@xmpp/client) ↔ emulator');

interface Ctx {
  emu?: CcsEmulator;
  restoreTls?: () => void;
  rejections?: ReturnType<typeof captureStrayXmppjsRejections>;
  clients: Client[];
  events: EmulatorEvent[];
  main?: { x: Client; inbox: GcmInbox };
}
const ctx: Ctx = { clients: [], events: [] };

function emulator(): CcsEmulator {
  if (!ctx.emu) throw new Error('the emulator did not start');
  return ctx.emu;
}

/** A new @xmpp/client for the emulator (not started), with reconnects off; stopped in `after`. */
function newClient(username: string, password: string, timeout = 3_000): Client {
  const x = client({ service: `xmpps://127.0.0.1:${emulator().port}`, domain: DOMAIN, username, password, timeout });
  x.reconnect.stop(); // a test must not reconnect behind our back
  x.on('error', () => undefined); // errors are asserted where they matter; an unlistened 'error' would throw
  ctx.clients.push(x);
  return x;
}

/** The main client: logged in once, shared by the message tests. */
async function mainClient(): Promise<{ x: Client; inbox: GcmInbox }> {
  if (ctx.main && ctx.main.x.status === 'online') return ctx.main;
  // CCS's authcid is SENDER@gcm.googleapis.com (not RFC 6120 §6.3.8's bare localpart): xmpp.js sends `username` as is.
  const x = newClient(`${SENDER}@${DOMAIN}`, KEY);
  const inbox = new GcmInbox(x); // listening before start(): nothing that arrives early is missed
  await x.start();
  ctx.main = { x, inbox };
  return ctx.main;
}

async function startFails(x: Client): Promise<Error & { condition?: string }> {
  try {
    await x.start();
  } catch (err) {
    return err as Error & { condition?: string };
  }
  throw new Error(`start() succeeded (${String(x.jid)}) where it should have failed`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test.before(async () => {
  ctx.rejections = captureStrayXmppjsRejections();
  const emu = new CcsEmulator({
    port: 0,
    upstreamResendMs: UPSTREAM_RESEND_MS,
    // Far past any test's wait: a drained connection closes in time only once its ping is answered.
    drainTimeoutMs: 60_000,
    senders: [
      { senderId: SENDER, apiKey: KEY },
      { senderId: SENDER_UTF8, apiKey: KEY_UTF8 },
      { senderId: SENDER_LATIN1, apiKey: KEY_LATIN1 },
    ],
  });
  emu.on('event', (e: EmulatorEvent) => ctx.events.push(e));
  await emu.start();
  ctx.emu = emu;
  ctx.restoreTls = trustEmulatorTls(emu.port, emu.ca);
});

test.after(async () => {
  await Promise.all(ctx.clients.map((x) => stopClient(x)));
  ctx.restoreTls?.();
  await ctx.emu?.stop();
  // Stray rejections are settled by now (the clients are stopped); stop collecting them.
  ctx.rejections?.restore();
});

test('xmpp.js goes online over direct TLS with SASL PLAIN and binds 1234567890@gcm.googleapis.com/…', async () => {
  const { x } = await mainClient();
  assert.is(x.status, 'online');
  const jid = String(x.jid);
  assert.match(jid, /^1234567890@gcm\.googleapis\.com\/[^/]+$/, `bound JID ${jid}`);
  const conns = emulator().connections();
  assert.is(conns.length, 1);
  const socket = x.socket?.socket;
  assert.ok(socket?.encrypted, 'TLS from the first byte');
  assert.ok(socket?.authorized, `the emulator's certificate was verified (${String(socket?.authorizationError)})`);
});

test('a downstream message is ACKed (registered before sending) and delivered to the device in the ledger', async () => {
  const { x, inbox } = await mainClient();
  const data = { text: 'héllo <&> "🔑" ]]>', n: 1 };
  const acked = inbox.until(() => inbox.ofType('ack').some((m) => m['message_id'] === 'xjs-down-1'), 'the ACK of xjs-down-1');
  await x.send(gcmStanza(xml, 'xjs-down-1', { to: 'xjs-token-1', message_id: 'xjs-down-1', data }));
  await acked;
  const ack = inbox.ofType('ack').find((m) => m['message_id'] === 'xjs-down-1');
  assert.equal(ack, { from: 'xjs-token-1', message_id: 'xjs-down-1', message_type: 'ack' });
  assert.equal(emulator().deliveredTo('xjs-token-1'), [{ message_id: 'xjs-down-1', data }]);
});

test('bad-… and unregistered-… tokens are NACKed with BAD_REGISTRATION and DEVICE_UNREGISTERED', async () => {
  const { x, inbox } = await mainClient();
  const before = { ...emulator().ledger().nacked };
  const ids = ['xjs-nack-bad', 'xjs-nack-unreg'];
  const nacked = inbox.until(() => ids.every((id) => inbox.ofType('nack').some((m) => m['message_id'] === id)), 'two NACKs');
  await x.send(gcmStanza(xml, ids[0] as string, { to: 'bad-xjs', message_id: ids[0], data: { a: 1 } }));
  await x.send(gcmStanza(xml, ids[1] as string, { to: 'unregistered-xjs', message_id: ids[1], data: { a: 2 } }));
  await nacked;
  const byId = new Map(inbox.ofType('nack').map((m) => [m['message_id'], m]));
  assert.is(byId.get('xjs-nack-bad')?.['error'], 'BAD_REGISTRATION');
  assert.is(byId.get('xjs-nack-bad')?.['from'], 'bad-xjs');
  assert.is(byId.get('xjs-nack-unreg')?.['error'], 'DEVICE_UNREGISTERED');
  assert.is(byId.get('xjs-nack-unreg')?.['from'], 'unregistered-xjs');
  const after = emulator().ledger().nacked;
  assert.is((after['BAD_REGISTRATION'] ?? 0) - (before['BAD_REGISTRATION'] ?? 0), 1);
  assert.is((after['DEVICE_UNREGISTERED'] ?? 0) - (before['DEVICE_UNREGISTERED'] ?? 0), 1);
  assert.is(emulator().deliveredTo('bad-xjs').length, 0, 'nothing delivered on a NACK');
});

test('injected upstream messages reach xmpp.js; its ACKs settle them in the ledger and they are not re-sent', async () => {
  const { x, inbox } = await mainClient();
  const before = emulator().ledger();
  const payloads = [{ say: 'grüß dich 👋' }, { say: 'second', quote: '"</gcm>"' }];
  const ids = payloads.map((data, i) => emulator().injectUpstream(SENDER, { from: `xjs-device-${i}`, data, message_id: `xjs-up-${i}` }));
  await inbox.until(() => ids.every((id) => inbox.ofType(undefined).some((m) => m['message_id'] === id)), 'the upstream messages');
  for (const id of ids) {
    const up = inbox.ofType(undefined).find((m) => m['message_id'] === id) as Record<string, unknown>;
    await x.send(gcmStanza(xml, `ack-${id}`, { to: up['from'], message_id: id, message_type: 'ack' }));
  }
  // Past the resend interval twice over: an un-ACKed message would have come again by now.
  await sleep(2 * UPSTREAM_RESEND_MS + 100);
  const got = inbox.ofType(undefined).filter((m) => ids.includes(m['message_id'] as string));
  assert.is(got.length, ids.length, 'each arrived once');
  got.forEach((m, i) => {
    assert.is(m['from'], `xjs-device-${i}`);
    assert.equal(m['data'], payloads[i]);
    assert.is(m['category'], 'com.example.emulator');
  });
  const l = emulator().ledger();
  assert.is(l.upstreamInjected - before.upstreamInjected, 2);
  assert.is(l.upstreamSent - before.upstreamSent, 2, 'not re-sent after the ACK');
  assert.is(l.upstreamAcked - before.upstreamAcked, 2);
  assert.is(l.upstreamUnacked, 0);
  assert.is(l.upstreamDuplicatesAcked, 0);
});

test('a wrong API key: start() rejects with the SASL not-authorized failure, without the key in the error', async () => {
  const x = newClient(`${SENDER}@${DOMAIN}`, `${KEY}-wrong`);
  const events: Error[] = [];
  x.on('error', (e: Error) => events.push(e));
  const err = await startFails(x);
  await stopClient(x);
  assert.is(err.name, 'SASLError');
  assert.is(err.condition, 'not-authorized');
  assert.ok(events.some((e) => e === err), 'also emitted as an error event');
  assert.not.ok(`${err.message} ${String(err.stack)}`.includes(`${KEY}-wrong`), 'no key in the error');
  assert.not.ok(x.status === 'online');
  assert.ok(ctx.events.some((e) => e.type === 'auth' && !e.ok), 'the emulator recorded a failed authentication');
});

test('non-ASCII API keys: xmpp.js cannot send them (btoa); a UTF-8 binary string works around it and the emulator accepts it', async () => {
  // Beyond Latin-1: btoa() throws before anything is sent.
  const authEventsBefore = ctx.events.filter((e) => e.type === 'auth').length;
  const astral = newClient(`${SENDER_UTF8}@${DOMAIN}`, KEY_UTF8, 1_000);
  const emitted: Error[] = [];
  astral.on('error', (e: Error) => emitted.push(e));
  const e1 = await startFails(astral);
  await stopClient(astral);
  assert.ok(emitted.some((e) => e.name === 'InvalidCharacterError'), `btoa's DOMException is emitted (${emitted.map((e) => e.name).join()})`);
  // start() rejects with it — or, when xmpp.js's open() race hits (README), with a TimeoutError
  // after `timeout`, the DOMException going to the unhandled "online" promise instead.
  assert.ok(e1.name === 'InvalidCharacterError' || e1.name === 'TimeoutError', `start() rejected with ${e1.name}: ${e1.message}`);
  assert.is(ctx.events.filter((e) => e.type === 'auth').length, authEventsBefore, 'no <auth> reached the emulator');

  // Latin-1 only: btoa sends ISO-8859-1 bytes, which are not UTF-8 (RFC 4616 §2): the emulator's
  // PLAIN decoder refuses them with malformed-request, as RFC 6120 §6.5.4 describes.
  const latin1 = newClient(`${SENDER_LATIN1}@${DOMAIN}`, KEY_LATIN1);
  const e2 = await startFails(latin1);
  await stopClient(latin1);
  assert.is(e2.name, 'SASLError');
  assert.is(e2.condition, 'malformed-request');

  // The workaround: hand xmpp.js the UTF-8 bytes as a "binary string" (one char per byte), which
  // btoa encodes byte for byte: the emulator sees the RFC 4616 message and accepts both keys.
  for (const [sender, key] of [[SENDER_UTF8, KEY_UTF8], [SENDER_LATIN1, KEY_LATIN1]] as const) {
    const x = newClient(`${sender}@${DOMAIN}`, Buffer.from(key, 'utf8').toString('latin1'));
    await x.start();
    assert.match(String(x.jid), new RegExp(`^${sender}@gcm\\.googleapis\\.com/`));
    await stopClient(x);
  }
});

test('stray rejections from xmpp.js start() (its race, see README) are only the SASL errors start() reported', async () => {
  // Whether the race hits is timing; when it does, the stray error is a SASL/btoa one, never another.
  for (const e of ctx.rejections?.stray ?? []) assert.ok(['SASLError', 'InvalidCharacterError'].includes(e.name), e.name);
  if ((ctx.rejections?.stray.length ?? 0) > 0) console.log(`  xmpp.js left ${ctx.rejections?.stray.length} unhandled rejection(s) from start() (collected)`);
});

test('drained, xmpp.js answers the ping that follows CONNECTION_DRAINING, and the emulator then closes the connection cleanly', async () => {
  const x = newClient(`${SENDER}@${DOMAIN}`, KEY);
  const inbox = new GcmInbox(x);
  await x.start();
  const id = emulator().connections().find((c) => c.jid === String(x.jid))?.id;
  assert.ok(id !== undefined, 'the emulator lists the client by its JID');
  assert.is(emulator().drain({ connectionId: id }), 1);
  await inbox.until(() => inbox.ofType('control').some((m) => m['control_type'] === 'CONNECTION_DRAINING'), 'CONNECTION_DRAINING');
  const closed = (): boolean => ctx.events.some((e) => e.type === 'close' && e.connectionId === id);
  for (let i = 0; i < 1000 && !closed(); i++) await sleep(20); // at most ~20 s, well inside drainTimeoutMs
  assert.ok(closed(), 'the emulator closed the drained connection before drainTimeoutMs: xmpp.js answered its ping');
  const close = ctx.events.find((e) => e.type === 'close' && e.connectionId === id);
  assert.is(close?.type === 'close' ? close.error : 'none', undefined, 'a clean close');
  assert.not.ok(ctx.events.some((e) => e.type === 'stream-error' && e.connectionId === id), 'no stream error');
  await stopClient(x);
});

test('xmpp.js stop() closes the stream cleanly and the emulator drops the connection', async () => {
  const { x } = await mainClient();
  const id = emulator().connections().find((c) => c.jid === String(x.jid))?.id;
  assert.ok(id !== undefined, 'the emulator lists the client by its JID');
  await x.stop();
  assert.is(x.status, 'offline');
  const open = (): boolean => emulator().connections().some((c) => c.id === id);
  for (let i = 0; i < 50 && open(); i++) await sleep(20);
  assert.not.ok(open(), `the emulator still lists connection ${String(id)}`);
  assert.is(emulator().connections().length, 0, `connections left: ${JSON.stringify(emulator().connections())}`);
  assert.ok(ctx.events.some((e) => e.type === 'close' && e.connectionId === id), 'a close event for the connection');
  assert.not.ok(ctx.events.some((e) => e.type === 'stream-error' && e.connectionId === id), 'no stream error');
});

test.run();
