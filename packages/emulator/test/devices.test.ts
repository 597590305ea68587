// The device model inside the emulator, over real TLS: an offline device's messages are ACKed and
// held, delivered (with their dr2: receipt) when it comes back; time_to_live expiry (0 = now or
// never); collapse keys; delay_while_idle; unregistered devices; scripted and seeded transitions;
// device groups with success/failure counts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsEmulator, type CcsEmulatorOptions } from '../src/index.js';
import { TestClient, sleep, until } from './helpers/client.js';

async function session(fn: (c: TestClient, emu: CcsEmulator) => Promise<void>, options: CcsEmulatorOptions = {}): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 1, keepaliveIntervalMs: 0, ...options });
  await emu.start();
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    await fn(c, emu);
    await c.close();
  } finally {
    await emu.stop();
  }
}

const fates = (emu: CcsEmulator, token: string): string[] => emu.deviceModel.log(token).map((r) => `${r.message_id}:${r.fate}`);

test('an offline device: ACKed at once, held; on reconnect delivered, and only then its dr2: receipt', () =>
  session(async (c, emu) => {
    emu.deviceModel.set('phone', 'offline');
    const ack = await c.request({ to: 'phone', message_id: 'm-1', data: { n: 1 }, delivery_receipt_requested: true });
    assert.is(ack.kind, 'ack');
    assert.equal(emu.deliveredTo('phone'), []);
    assert.equal(emu.deviceModel.heldFor('phone'), ['m-1']);
    await sleep(100);
    assert.not.ok(c.received.some((el) => el.toString().includes('dr2:m-1')), 'no receipt while held');
    assert.is(emu.ledger().receiptsSent, 0);
    emu.deviceModel.set('phone', 'online');
    assert.equal(emu.deliveredTo('phone'), [{ message_id: 'm-1', data: { n: 1 } }]);
    const receipt = await c.waitGcm((m) => m.kind === 'receipt');
    assert.is(receipt.kind === 'receipt' && receipt.originalMessageId, 'm-1');
    assert.equal(fates(emu, 'phone'), ['m-1:held', 'm-1:delivered']);
    const t = emu.deviceModel.totals();
    assert.equal([t.heldEver, t.deliveredLater, t.held], [1, 1, 0]);
  }));

test('an ACK of the ACK of a held message is still a 406 ACK_OF_ACK, not a BAD_ACK', () =>
  session(async (c, emu) => {
    emu.deviceModel.set('phone', 'offline');
    await c.request({ to: 'phone', message_id: 'held-ack' });
    c.ack('phone', 'held-ack');
    const err = await c.waitGcm((m) => m.kind === 'stanzaError');
    assert.is(err.kind === 'stanzaError' && err.condition, 'not-acceptable');
    assert.equal(emu.ledger().nacked, {});
  }));

test('time_to_live: a held message expires after it; 0 is now or never', () =>
  session(async (c, emu) => {
    emu.deviceModel.set('phone', 'offline');
    assert.is((await c.request({ to: 'phone', message_id: 'short', time_to_live: 1 })).kind, 'ack');
    assert.is((await c.request({ to: 'phone', message_id: 'never', time_to_live: 0 })).kind, 'ack');
    assert.is((await c.request({ to: 'phone', message_id: 'long', time_to_live: '600' })).kind, 'ack');
    assert.equal(emu.deviceModel.heldFor('phone'), ['short', 'long']);
    await until(() => emu.deviceModel.heldFor('phone').length === 1, 5000, 'the 1 s message to expire');
    emu.deviceModel.set('phone', 'online');
    assert.equal(emu.deliveredTo('phone').map((d) => d.message_id), ['long']);
    assert.equal(fates(emu, 'phone'), ['short:held', 'never:expired', 'long:held', 'short:expired', 'long:delivered']);
    assert.is(emu.deviceModel.totals().expired, 2);
    assert.is((await c.request({ to: 'phone', message_id: 'now', time_to_live: 0 })).kind, 'ack');
    assert.equal(emu.deliveredTo('phone').map((d) => d.message_id), ['long', 'now']);
  }));

test('collapse_key: only the newest held message per key reaches the device', () =>
  session(async (c, emu) => {
    emu.deviceModel.set('phone', 'offline');
    for (const [id, key] of [['s1', 'score'], ['x', undefined], ['s2', 'score'], ['s3', 'score']] as const) {
      await c.request({ to: 'phone', message_id: id, ...(key ? { collapse_key: key } : {}) });
    }
    emu.deviceModel.set('phone', 'online');
    assert.equal(emu.deliveredTo('phone').map((d) => d.message_id), ['x', 's3']);
    assert.is(emu.deviceModel.totals().collapsed, 2);
  }));

test('delay_while_idle: an idle device gets other messages at once, that one when it wakes', () =>
  session(async (c, emu) => {
    emu.deviceModel.set('phone', 'idle');
    await c.request({ to: 'phone', message_id: 'later', delay_while_idle: true });
    await c.request({ to: 'phone', message_id: 'now' });
    assert.equal(emu.deliveredTo('phone').map((d) => d.message_id), ['now']);
    emu.deviceModel.set('phone', 'online');
    assert.equal(emu.deliveredTo('phone').map((d) => d.message_id), ['now', 'later']);
  }));

test('an unregistered device: DEVICE_UNREGISTERED for new messages; what it held is dropped', () =>
  session(async (c, emu) => {
    emu.deviceModel.set('phone', 'offline');
    await c.request({ to: 'phone', message_id: 'held' });
    emu.deviceModel.set('phone', 'unregistered');
    const m = await c.request({ to: 'phone', message_id: 'after' });
    assert.is(m.kind === 'nack' && m.error.code, 'DEVICE_UNREGISTERED');
    assert.equal(fates(emu, 'phone'), ['held:held', 'held:dropped']);
    assert.throws(() => emu.deviceModel.set('phone', 'asleep' as 'idle'), /device state must be one of/);
  }));

test('deviceScript: scripted transitions at their times', () =>
  session(async (c, emu) => {
    assert.is(emu.deviceModel.presence('phone'), 'offline');
    await c.request({ to: 'phone', message_id: 'm' });
    assert.equal(emu.deliveredTo('phone'), []);
    await until(() => emu.deviceModel.presence('phone') === 'online', 5000, 'the scripted reconnect');
    assert.equal(emu.deliveredTo('phone').map((d) => d.message_id), ['m']);
  }, { deviceScript: [{ token: 'phone', state: 'offline', atMs: 0 }, { token: 'phone', state: 'online', atMs: 300 }] }));

test('deviceSchedule: the same seed gives every device the same transitions and every message the same fate', async () => {
  const run = async (): Promise<string[]> => {
    const out: string[] = [];
    await session(async (c, emu) => {
      for (let i = 0; i < 60; i++) await c.request({ to: `dev-${i % 6}`, message_id: `m${i}`, ...(i % 5 === 0 ? { time_to_live: 0 } : {}) });
      for (let d = 0; d < 6; d++) out.push(`${emu.deviceModel.presence(`dev-${d}`)}|${fates(emu, `dev-${d}`).join(',')}`);
      const t = emu.deviceModel.totals();
      assert.ok(t.heldEver > 0 && t.transitions > 0, JSON.stringify(t));
    }, { seed: 42, deviceSchedule: { offlineShare: 0.5, meanMessages: 3 } });
    return out;
  };
  assert.equal(await run(), await run());
});

test('a device group: the ACK counts success and failure, lists the failed tokens, and each member gets it', () =>
  session(async (c, emu) => {
    emu.deviceModel.addGroup('aUniqueKey', ['a', 'b', 'unregistered-c', 'bad-d']);
    const m = await c.request({ to: 'aUniqueKey', message_id: 'g-1', data: { hello: 'group' } });
    assert.is(m.kind, 'ack');
    assert.equal(m.payload, { from: 'aUniqueKey', message_id: 'g-1', message_type: 'ack', success: 2, failure: 2, failed_registration_ids: ['unregistered-c', 'bad-d'] });
    assert.equal(emu.deliveredTo('a'), [{ message_id: 'g-1', data: { hello: 'group' } }]);
    assert.equal(emu.deliveredTo('b'), [{ message_id: 'g-1', data: { hello: 'group' } }]);
    const all = await c.request({ to: 'family', message_id: 'g-2' });
    assert.equal(all.payload, { from: 'family', message_id: 'g-2', message_type: 'ack', success: 2, failure: 0 });
    const l = emu.ledger();
    assert.equal([l.downstreamDelivered, l.downstreamUnique, l.downstreamDuplicates], [4, 4, 0]);
  }, { deviceGroups: { family: ['p1', 'p2'] } }));

test('bad device options are EMU_ERR_CONFIG', () => {
  assert.throws(() => new CcsEmulator({ deviceSchedule: { offlineShare: 2 } }), /offlineShare/);
  assert.throws(() => new CcsEmulator({ deviceScript: [{ token: 't', state: 'gone' as 'offline', atMs: 0 }] }), /bad device transition/);
  // A timer's delay past Node's limit fired after 1 ms: the transition came at once.
  assert.throws(() => new CcsEmulator({ deviceScript: [{ token: 't', state: 'offline', atMs: 2 ** 31 }] }), /bad device transition .*atMs from 0 to 2147483647/);
  assert.throws(() => new CcsEmulator({ deviceGroups: { k: [] } }), /at least one token/);
});

test.run();
