/**
 * Interop: slixmpp 1.8 (Debian's python3-slixmpp, a third-party XMPP library) as a CCS app server
 * against this project's `CcsEmulator` on 127.0.0.1. The client is `lib/slixmpp_ccs.py`, run with
 * Debian's /usr/bin/python3 as a child process. Skipped — visibly, with the reason — only when
 * slixmpp cannot be imported (scripts/setup-slixmpp.sh installs it).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsEmulator, type EmulatorEvent } from '@ccs-xmpp/emulator';
import { killSlixmppChildren, runSlixmpp, slixmppAvailability, type SlixmppConfig } from '../lib/slixmpp.js';

const SENDER = '1234567890';
const KEY = 'emulator-api-key';
const UPSTREAM_RESEND_MS = 300;

const test = suite('slixmpp ↔ emulator');
const availability = slixmppAvailability();

const ctx: { emu?: CcsEmulator; events: EmulatorEvent[] } = { events: [] };

function emulator(): CcsEmulator {
  if (!ctx.emu) throw new Error('the emulator did not start');
  return ctx.emu;
}

function config(extra: Partial<SlixmppConfig>): SlixmppConfig {
  const emu = emulator();
  return { port: emu.port, caFile: emu.caFile, authcid: `${SENDER}@gcm.googleapis.com`, downstream: [], upstreamExpected: 0, timeoutMs: 8_000, ...extra };
}

const TESTS: Array<[string, () => Promise<void>]> = [];
const it = (name: string, fn: () => Promise<void>): void => {
  TESTS.push([name, fn]);
};

it('slixmpp connects with direct TLS, authenticates, binds, gets ACKs and NACKs, and ACKs upstream messages', async () => {
  const emu = emulator();
  const upstream = [
    { from: 'slix-device-0', data: { say: 'grüß dich 👋', n: '0' } },
    { from: 'slix-device-1', data: { xml: '<gcm>&amp;</gcm> ]]>', quote: '"\'' } },
    { from: 'slix-device-2', data: {} },
  ];
  // Queued before the client exists: the emulator sends them once it has bound.
  const upIds = upstream.map((u, i) => emu.injectUpstream(SENDER, { ...u, message_id: `slix-up-${i}` }));
  const downstream = [
    ...Array.from({ length: 5 }, (_, i) => ({ message_id: `slix-down-${i}`, to: `slix-token-${i % 2}`, data: { i: String(i), text: `héllo #${i} <&> 🔑` } })),
    { message_id: 'slix-bad', to: 'bad-slix', data: { a: '1' } },
    { message_id: 'slix-unreg', to: 'unregistered-slix', data: { a: '2' } },
    { message_id: 'slix-canonical', to: 'canonical-slix-new', data: { a: '3' } },
  ];
  const run = await runSlixmpp(config({ downstream, upstreamExpected: upstream.length, resource: 'slixmpp-ccs' }), KEY);
  const r = run.result;
  assert.ok(r.ok, `the script finished its work: ${r.error ?? ''}\n${run.stderr.slice(-1500)}`);
  assert.is(r.auth, 'success');
  assert.is(r.jid, `${SENDER}@gcm.googleapis.com/slixmpp-ccs`);

  // ACKs and NACKs, one per downstream message.
  const acks = new Map(r.acks.map((a) => [a.message_id, a]));
  const nacks = new Map(r.nacks.map((n) => [n.message_id, n]));
  for (let i = 0; i < 5; i++) assert.equal(acks.get(`slix-down-${i}`), { message_id: `slix-down-${i}`, from: `slix-token-${i % 2}` });
  assert.equal(acks.get('slix-canonical'), { message_id: 'slix-canonical', from: 'canonical-slix-new', registration_id: 'slix-new' });
  assert.is(nacks.get('slix-bad')?.error, 'BAD_REGISTRATION');
  assert.is(nacks.get('slix-unreg')?.error, 'DEVICE_UNREGISTERED');
  assert.is(r.acks.length + r.nacks.length, downstream.length, 'no extra answers');
  assert.equal(r.other, [], 'nothing unexpected arrived (no stanza errors)');
  assert.equal(r.control, [], 'no control message');

  // What the devices got: the JSON data exactly as slixmpp serialised it.
  assert.equal(emu.deliveredTo('slix-token-0').map((d) => d.message_id), ['slix-down-0', 'slix-down-2', 'slix-down-4']);
  assert.equal(emu.deliveredTo('slix-token-1').map((d) => d.data), [1, 3].map((i) => ({ i: String(i), text: `héllo #${i} <&> 🔑` })));
  assert.equal(emu.deliveredTo('slix-new').map((d) => d.message_id), ['slix-canonical']);
  assert.is(emu.deliveredTo('bad-slix').length, 0);

  // Upstream: each arrived once, intact, and slixmpp's ACKs settled them.
  assert.equal(r.upstream.map((u) => u.message_id), upIds);
  r.upstream.forEach((u, i) => {
    assert.is(u.from, upstream[i]?.from);
    assert.equal(u.data, upstream[i]?.data);
    assert.is(u.category, 'com.example.emulator');
  });
  // upstreamSent counts every write: an un-ACKed message would have been re-sent while slixmpp was
  // connected (resend interval UPSTREAM_RESEND_MS) or come back as upstreamUnacked now it is gone.
  const l = emu.ledger();
  assert.is(l.upstreamInjected, 3);
  assert.is(l.upstreamAcked, 3);
  assert.is(l.upstreamUnacked, 0);
  assert.is(l.upstreamSent, 3, 'none re-sent');
  assert.is(l.downstreamUnique, 6);
  assert.equal(l.nacked, { BAD_REGISTRATION: 1, DEVICE_UNREGISTERED: 1 });
  assert.is(l.stanzaErrors, 0);

  // The stream ended with slixmpp's </stream:stream>, not an error, and the emulator let go of it.
  assert.not.ok(ctx.events.some((e) => e.type === 'stream-error'), 'no stream error either way');
  assert.ok(ctx.events.some((e) => e.type === 'close'), 'the emulator saw the connection close');
  assert.is(emu.connections().length, 0);
});

it('drained, slixmpp answers the ping that follows CONNECTION_DRAINING, and the emulator then closes the connection cleanly, long before drainTimeoutMs', async () => {
  const emu = emulator();
  const jid = `${SENDER}@gcm.googleapis.com/slixmpp-drain`;
  // The script stays connected until the emulator closes the stream; it gives up after 20 s, a
  // third of drainTimeoutMs: a connection closed only at the deadline fails the test.
  const running = runSlixmpp(config({ resource: 'slixmpp-drain', untilServerCloses: true, timeoutMs: 20_000 }), KEY);
  let id: number | undefined;
  for (let i = 0; i < 500 && id === undefined; i++) {
    id = emu.connections().find((c) => c.jid === jid)?.id;
    if (id === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(id !== undefined, `the emulator lists slixmpp by its JID ${jid}`);
  assert.is(emu.drain({ connectionId: id }), 1);
  const run = await running;
  const r = run.result;
  assert.ok(r.ok, `the emulator closed the stream before the script gave up: ${r.error ?? ''}\n${run.stderr.slice(-1500)}`);
  assert.equal(r.control, ['CONNECTION_DRAINING']);
  // slixmpp has no XEP-0199 plugin loaded here: it answers the emulator's ping as an IQ it does not
  // handle, with an error — which the emulator counts as an answer, as it does a result.
  assert.equal(r.iqAnswers.map((a) => a.type), ['error'], JSON.stringify(r.iqAnswers));
  assert.is(r.iqAnswers[0]?.condition, 'feature-not-implemented');
  assert.ok(r.closedByServer, 'the emulator ended the stream, not slixmpp');
  const close = ctx.events.find((e) => e.type === 'close' && e.connectionId === id);
  assert.ok(close !== undefined, 'the emulator saw the connection close');
  assert.is(close.type === 'close' ? close.error : 'none', undefined, 'a clean close');
  assert.not.ok(ctx.events.some((e) => e.type === 'stream-error' && e.connectionId === id), 'no stream error');
  assert.is(emu.connections().length, 0);
});

it('a wrong API key: slixmpp reports the SASL not-authorized failure and gives up (no other mechanism it can use)', async () => {
  const wrong = `${KEY}-wrong`;
  const run = await runSlixmpp(config({ expectAuthFailure: true, timeoutMs: 5_000 }), wrong);
  const r = run.result;
  assert.ok(r.ok, `the script saw the failure: ${r.error ?? ''}\n${run.stderr.slice(-1500)}`);
  assert.is(r.auth, 'failed');
  assert.is(r.authCondition, 'not-authorized');
  assert.is(r.jid, null);
  assert.not.ok(`${run.stdout}${run.stderr}`.includes(wrong), 'the key is not printed');
  assert.ok(ctx.events.some((e) => e.type === 'auth' && e['ok'] === false && e['condition'] === 'not-authorized'));
});

if (availability.available) {
  test.before(async () => {
    // drainTimeoutMs far past any test's wait: a drained connection closes in time only once its ping is answered.
    const emu = new CcsEmulator({ port: 0, upstreamResendMs: UPSTREAM_RESEND_MS, drainTimeoutMs: 60_000 });
    emu.on('event', (e: EmulatorEvent) => ctx.events.push(e));
    await emu.start();
    ctx.emu = emu;
  });
  test.after(async () => {
    killSlixmppChildren();
    await ctx.emu?.stop();
  });
  for (const [name, fn] of TESTS) test(`${name} [slixmpp ${availability.version}]`, fn);
} else {
  console.log(`slixmpp unavailable: ${availability.reason} — skipping ${TESTS.length} slixmpp interop tests`);
  for (const [name, fn] of TESTS) test.skip(name, fn);
}
test.run();
