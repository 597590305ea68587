// Upstream de-duplication is per device: CCS message ids are unique per sending device, not globally
// (issue 19, survivor 1: keying the window by message_id alone passed every other test). Two devices
// that send the same message_id must both reach the handler and both be ACKed; a resend from the same
// device must still be dropped.
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, MemoryDedupStore, type CcsClientOptions, type UpstreamMessage } from '../src/index.js';
import { DedupWindow } from '../src/internal.js';

const SENDER = '1234567890';

test('DedupWindow keeps one entry per (from, message_id): the same id from two devices is two keys', () => {
  const a = DedupWindow.key('device-a', 'm-1');
  const b = DedupWindow.key('device-b', 'm-1');
  assert.is.not(a, b);
  const w = new DedupWindow<string>(8);
  w.add(a, 'a');
  assert.ok(w.has(a));
  assert.not.ok(w.has(b), 'device-b\'s m-1 is not a duplicate of device-a\'s');
  w.add(b, 'b');
  assert.is(w.size, 2);
  assert.is(w.get(a), 'a');
  assert.is(w.get(b), 'b');
  assert.ok(w.has(DedupWindow.key('device-a', 'm-1')), 'a resend from device-a is still a duplicate');
});

test('MemoryDedupStore (the client\'s default window) claims the same message_id from two devices as two new messages', () => {
  const store = new MemoryDedupStore(8);
  assert.is(store.claim('device-a', 'm-1'), 'new');
  assert.is(store.claim('device-b', 'm-1'), 'new', 'another device\'s m-1 is not a duplicate');
  assert.is(store.claim('device-a', 'm-1'), 'running', 'a resend from device-a while its handler runs');
  store.complete('device-b', 'm-1');
  assert.is(store.claim('device-b', 'm-1'), 'done');
  assert.is(store.claim('device-a', 'm-1'), 'running', 'completing device-b\'s m-1 leaves device-a\'s alone');
  store.release('device-a', 'm-1');
  assert.is(store.claim('device-a', 'm-1'), 'new');
  assert.is(store.claim('device-b', 'm-1'), 'done', 'releasing device-a\'s m-1 leaves device-b\'s alone');
});

async function withClient(
  run: (emu: CcsEmulator, client: CcsClient, seen: UpstreamMessage[]) => Promise<void>,
  consume: 'handler' | 'async-handler' | 'iterator',
): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 19, keepaliveIntervalMs: 0, upstreamResendMs: 60_000 });
  await emu.start();
  const opts: CcsClientOptions = {
    senderId: SENDER, apiKey: 'emulator-api-key', host: '127.0.0.1', port: emu.port,
    tls: { ca: emu.ca, servername: 'localhost' }, handshakeTimeoutMs: 10_000,
  };
  const seen: UpstreamMessage[] = [];
  const client = new CcsClient(opts);
  let iterating: Promise<void> | undefined;
  if (consume === 'handler') client.onUpstream((m) => void seen.push(m));
  else if (consume === 'async-handler') {
    client.onUpstream(async (m) => {
      await new Promise((r) => setTimeout(r, 20));
      seen.push(m);
    });
  } else {
    iterating = (async () => {
      for await (const m of client.upstream()) seen.push(m);
    })();
  }
  try {
    await client.connect();
    await run(emu, client, seen);
  } finally {
    await client.close({ timeoutMs: 5000 });
    await iterating;
    await emu.stop();
  }
}

const until = async (what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

for (const consume of ['handler', 'async-handler', 'iterator'] as const) {
  test(`two devices sending the same message_id both reach the ${consume} and both are ACKed (emulator, TLS)`, () =>
    withClient(async (emu, client, seen) => {
      emu.injectUpstream(SENDER, { from: 'device-a', message_id: 'same-1', data: { n: 'a' } });
      emu.injectUpstream(SENDER, { from: 'device-b', message_id: 'same-1', data: { n: 'b' } });
      emu.injectUpstream(SENDER, { from: 'device-c', message_id: 'other-1', data: { n: 'c' } });
      await until('three upstream messages ACKed', () => emu.ledger().upstreamAcked === 3);
      await until('three messages consumed', () => seen.length === 3);
      const got = seen.map((m) => `${m.from}/${m.messageId}`).sort();
      assert.equal(got, ['device-a/same-1', 'device-b/same-1', 'device-c/other-1']);
      assert.equal(seen.map((m) => (m.data as { n: string }).n).sort(), ['a', 'b', 'c']);
      const l = emu.ledger();
      assert.is(l.upstreamUnacked, 0);
      assert.is(l.upstreamDuplicatesAcked, 0);
      assert.is(client.stats().duplicatesDropped, 0, 'neither was taken for a duplicate');
      assert.is(client.stats().upstreamAcked, 3);
    }, consume));
}

test('a resend from the same device is still dropped and re-ACKed, beside another device\'s same id', () =>
  withClient(async (emu, client, seen) => {
    const conn = emu.connections()[0];
    assert.ok(conn, 'connected');
    emu.injectUpstream(SENDER, { from: 'device-a', message_id: 'dup-1' });
    await until('first ACK', () => emu.ledger().upstreamAcked === 1);
    // CCS resends what it thinks un-ACKed: the same (from, message_id) once more.
    emu.injectUpstream(SENDER, { from: 'device-a', message_id: 'dup-1' });
    emu.injectUpstream(SENDER, { from: 'device-b', message_id: 'dup-1' });
    await until('both later copies answered', () => client.stats().upstreamAcked === 3);
    assert.equal(seen.map((m) => `${m.from}/${m.messageId}`), ['device-a/dup-1', 'device-b/dup-1']);
    assert.is(client.stats().duplicatesDropped, 1);
  }, 'handler'));

test.run();
