// Robustness of the emulator against misbehaving clients and awkward timing: each test was written
// from a review finding (most failed before the fix) and now guards that behaviour.
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsEmulator, EmulatorError, parseCommandLine, type EmulatorEvent } from '../src/index.js';
import type { XmlElement } from '@ccs-xmpp/stream';
import { TestClient, sleep, until } from './helpers/client.js';

const HEADER = `<?xml version='1.0'?><stream:stream to="gcm.googleapis.com" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`;

/** Runs `fn` while collecting uncaught exceptions (which would otherwise kill the whole process). */
async function catchingUncaught(fn: (errors: Error[]) => Promise<void>): Promise<void> {
  const errors: Error[] = [];
  const onError = (err: Error): void => {
    errors.push(err);
  };
  process.on('uncaughtException', onError);
  try {
    await fn(errors);
  } finally {
    process.off('uncaughtException', onError);
  }
}

function describe(errors: Error[]): string {
  return errors.map((e) => `${e.name}: ${e.message}`).join('; ');
}

test('answers a non-object JSON payload holding a control character with a stanza error instead of crashing', () =>
  catchingUncaught(async (errors) => {
    const emu = new CcsEmulator({ port: 0, seed: 1 });
    await emu.start();
    try {
      const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
      const other = await TestClient.connect({ port: emu.port, ca: emu.ca });
      // Valid XML, valid JSON: the string "\u0001" (escaped in the JSON text). CCS answers a 400.
      const answer = c.waitFor((el) => el.local === 'message' && el.attr('type') === 'error', 1000).catch(() => undefined);
      c.sendRaw('<message id="s1"><gcm xmlns="google:mobile:data">"\\u0001"</gcm></message>');
      const el = await answer;
      assert.equal(errors, [], `no uncaught exception; got ${describe(errors)}`);
      assert.ok(el, 'a 400 stanza error answers the message');
      assert.is((await other.request({ to: 'tok', message_id: 'still-up' })).kind, 'ack');
      await c.close();
      await other.close();
    } finally {
      await emu.stop();
    }
  }));

test('answers an ACK of an ACK whose message_id holds a control character with a 406 instead of crashing', () =>
  catchingUncaught(async (errors) => {
    const emu = new CcsEmulator({ port: 0, seed: 1 });
    await emu.start();
    try {
      const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
      // A downstream message with message_id "\u0001" (JSON escape: the XML is fine) is ACKed...
      c.sendRaw('<message><gcm xmlns="google:mobile:data">{"to":"tok","message_id":"\\u0001"}</gcm></message>');
      assert.is((await c.answerTo('\u0001', 1000)).kind, 'ack');
      // ...then the app server ACKs our ACK: the 406 stanza error's <text> quotes the id.
      const answer = c.waitFor((el) => el.local === 'message' && el.attr('type') === 'error', 1000).catch(() => undefined);
      c.sendRaw('<message><gcm xmlns="google:mobile:data">{"to":"tok","message_id":"\\u0001","message_type":"ack"}</gcm></message>');
      const el = await answer;
      assert.equal(errors, [], `no uncaught exception; got ${describe(errors)}`);
      assert.ok(el, 'a 406 stanza error answers the ACK of an ACK');
      await c.close();
    } finally {
      await emu.stop();
    }
  }));

test('ignores a stream header that arrives while the emulator is closing the connection', () =>
  catchingUncaught(async (errors) => {
    const emu = new CcsEmulator({ port: 0, seed: 1 });
    await emu.start();
    let sock: tls.TLSSocket | undefined;
    try {
      sock = tls.connect({ host: '127.0.0.1', port: emu.port, ca: emu.ca, servername: 'localhost' });
      sock.on('error', () => undefined);
      await once(sock, 'secureConnect');
      await until(() => emu.connections().length === 1, 2000, 'the session');
      // stop() closes the stream (state Closing) and waits for the client's closing tag; the client,
      // which had not yet opened its stream, does so now (the same happens after an idle timeout,
      // or when stop() lands between SASL <success/> and the client's restarted header).
      const stopped = emu.stop(300);
      sock.write(HEADER);
      await stopped;
      assert.equal(errors, [], `no uncaught exception; got ${describe(errors)}`);
    } finally {
      sock?.destroy();
      await emu.stop();
    }
  }));

test('stop() while start() is still listening settles start() (EMU_ERR_STATE) and stops', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 1 });
  const started = emu.start().then(() => 'resolved', (e: unknown) => `rejected ${(e as EmulatorError).code}`);
  await emu.stop();
  let timer: NodeJS.Timeout | undefined;
  // A ref'd timer: without it the event loop empties and uvu exits early, which is the symptom.
  const outcome = await Promise.race([started, new Promise<string>((r) => (timer = setTimeout(() => r('pending'), 1000)))]);
  clearTimeout(timer);
  try {
    assert.is.not(outcome, 'pending', 'start() settles (rejects with EMU_ERR_STATE, or resolves and is then stopped)');
    if (emu.port !== 0) {
      const accepted = await new Promise<boolean>((resolve) => {
        const s = net.connect(emu.port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      assert.is(accepted, false, 'after stop() resolved, nothing listens');
    }
  } finally {
    await emu.stop();
  }
});

test('stops re-sending un-ACKed upstream into a client that reads nothing once its socket is full', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 1, maxPendingUpstream: 4, upstreamResendMs: 20, keepaliveIntervalMs: 0 });
  await emu.start();
  let c: TestClient | undefined;
  try {
    c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    // The client stops reading: nothing the emulator writes from now on is consumed.
    c.conn.pause();
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 4; i++) emu.injectUpstream('1234567890', { message_id: `big-${i}`, data: { big } });
    // Re-sends go out until the kernel's socket buffer is full (a loopback connection whose reader
    // stopped absorbs a few MiB); from then on the socket reports backpressure, and re-sends must
    // stop instead of queueing copies in the server's TLSSocket without bound (they did: +12 MiB/s).
    await sleep(700);
    const sentThen = emu.ledger().upstreamSent;
    await sleep(500);
    const sentLater = emu.ledger().upstreamSent;
    assert.ok(sentLater - sentThen <= 4, `${sentLater - sentThen} more upstream stanzas written to a client that read nothing (after ${sentThen})`);
  } finally {
    c?.conn.destroy();
    await emu.stop();
  }
});

test('the CLI error for a stray argument does not quote it (`--api-key k1 k2` must not print k2)', () => {
  let err: unknown;
  try {
    parseCommandLine(['--sender-id', 'a', '--sender-id', 'b', '--api-key', 'first-secret-key', 'second-secret-key'], {});
  } catch (e) {
    err = e;
  }
  assert.instance(err, EmulatorError);
  assert.is((err as EmulatorError).code, 'EMU_ERR_CONFIG');
  assert.not.match((err as Error).message, 'second-secret-key', `the message must not quote the key: ${(err as Error).message}`);
});

test('two upstream messages with one message_id go out one after the other, each tracked until ACKed', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 1, upstreamResendMs: 5000 });
  await emu.start();
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    // A device sending the same upstream message twice (or a re-sent downstream message with
    // delivery_receipt_requested, which yields a second dr2:ID receipt): the client's ACK names only
    // the id, so the second copy waits until the first is ACKed instead of overwriting its tracking.
    emu.injectUpstream('1234567890', { message_id: 'same', data: { n: 1 } });
    emu.injectUpstream('1234567890', { message_id: 'same', data: { n: 2 } });
    const upstream = (): XmlElement[] => c.received.filter((el) => el.local === 'message');
    await until(() => upstream().length >= 1, 2000, 'the first copy');
    await sleep(50);
    assert.is(upstream().length, 1, 'the second copy waits');
    assert.is(emu.connections()[0]?.pendingUpstream, 1);
    const from = (JSON.parse(upstream()[0]?.getChild('gcm')?.text() ?? '{}') as { from: string }).from;
    c.sendJson({ to: from, message_id: 'same', message_type: 'ack' });
    await until(() => upstream().length >= 2, 2000, 'the second copy');
    const second = JSON.parse(upstream()[1]?.getChild('gcm')?.text() ?? '{}') as { data: { n: number } };
    assert.is(second.data.n, 2);
    c.sendJson({ to: from, message_id: 'same', message_type: 'ack' });
    await until(() => emu.ledger().upstreamUnacked === 0, 2000, 'both ACKed');
    await c.close();
  } finally {
    await emu.stop();
  }
});

test('a stanza over maxStanzaBytes gets a policy-violation stream error; other connections carry on', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 1, maxStanzaBytes: 4096 });
  await emu.start();
  const events: EmulatorEvent[] = [];
  emu.on('event', (e: EmulatorEvent) => events.push(e));
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const other = await TestClient.connect({ port: emu.port, ca: emu.ca });
    c.sendRaw(`<message><gcm xmlns="google:mobile:data">{"to":"tok","message_id":"huge","data":{"a":"${'y'.repeat(8000)}"}}</gcm></message>`);
    const err = await c.closed;
    assert.ok(c.raw.includes('<policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>'), 'a policy-violation stream error');
    assert.ok(err, 'the connection closed');
    assert.ok(!events.some((e) => e.type === 'downstream'), 'nothing delivered');
    assert.is((await other.request({ to: 'tok', message_id: 'fine' })).kind, 'ack');
    await other.close();
  } finally {
    await emu.stop();
  }
});

test('a client that sends without reading is paused (backpressure), not buffered without bound; others carry on', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 1, keepaliveIntervalMs: 0 });
  await emu.start();
  let c: TestClient | undefined;
  try {
    c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const other = await TestClient.connect({ port: emu.port, ca: emu.ca });
    c.conn.pause();
    // Long tokens make each ACK large: ~2 KiB of answer per ~2 KiB sent.
    const to = `t-${'z'.repeat(2000)}`;
    const N = 20_000;
    let i = 0;
    const pump = (): void => {
      while (i < N) {
        if (c!.isClosed) return;
        const ok = c!.conn.send(`<message><gcm xmlns="google:mobile:data">{"to":"${to}","message_id":"m${i++}"}</gcm></message>`);
        if (!ok) return;
      }
    };
    c.conn.rawSocket.on('drain', pump);
    pump();
    await sleep(800);
    const delivered = emu.ledger().downstreamDelivered;
    assert.ok(delivered < N, `the emulator stopped reading a client that does not read (${delivered} of ${N} answered)`);
    assert.is((await other.request({ to: 'tok', message_id: 'other' })).kind, 'ack');
    await other.close();
  } finally {
    c?.conn.destroy();
    await emu.stop();
  }
});

test('the CLI refuses an empty --host (it would listen on every interface)', () => {
  assert.throws(() => parseCommandLine(['--host', ''], {}), (e: unknown) => e instanceof EmulatorError && e.code === 'EMU_ERR_CONFIG');
});

test.run();
