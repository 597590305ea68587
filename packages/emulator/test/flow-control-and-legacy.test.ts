// The flow-control check (a client past the window is counted, or closed with policy-violation
// under strictFlowControl) and the legacy NACK shapes of the CCS document behind `legacyNacks`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsEmulator, parseCommandLine, type CcsEmulatorOptions } from '../src/index.js';
import { TestClient, until } from './helpers/client.js';

async function session(fn: (c: TestClient, emu: CcsEmulator) => Promise<void>, options: CcsEmulatorOptions = {}): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 1, keepaliveIntervalMs: 0, ...options });
  await emu.start();
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    await fn(c, emu);
    if (!c.isClosed) await c.close();
  } finally {
    await emu.stop();
  }
}

test('a client that sends past the window (answers held back) is counted per connection and in the ledger', () =>
  session(async (c, emu) => {
    for (let i = 0; i < 15; i++) c.sendJson({ to: 'tok', message_id: `m-${i}` });
    await until(() => emu.ledger().downstreamDelivered === 15, 5000, 'all 15 received');
    const [info] = emu.connections();
    const fc = info?.flowControl;
    assert.is(fc?.maxUnanswered, 15);
    assert.is(fc?.violations, 5);
    assert.is(emu.ledger().flowControlViolations, 5);
    for (let i = 0; i < 15; i++) assert.is((await c.answerTo(`m-${i}`, 5000)).kind, 'ack');
  }, { maxPendingDownstream: 10, faults: { ackDelayMs: 300 } }));

test('a client within the window is never counted', () =>
  session(async (c, emu) => {
    for (let i = 0; i < 3; i++) assert.is((await c.request({ to: 'tok', message_id: `m-${i}` })).kind, 'ack');
    assert.is(emu.connections()[0]?.flowControl.maxUnanswered, 1);
    assert.is(emu.ledger().flowControlViolations, 0);
  }, { maxPendingDownstream: 1 }));

test('strictFlowControl closes a connection past the window with a policy-violation stream error', () =>
  session(async (c, emu) => {
    for (let i = 0; i < 4; i++) c.sendJson({ to: 'tok', message_id: `m-${i}` });
    const err = await c.closed;
    assert.ok(c.raw.includes('<policy-violation'), c.raw);
    assert.ok(c.raw.includes('flow-control window'));
    assert.ok(err === undefined || typeof err.code === 'string');
    assert.is(emu.ledger().downstreamDelivered, 2, 'the message past the window is not delivered');
  }, { maxPendingDownstream: 2, strictFlowControl: true, faults: { ackDelayMs: 500 } }));

test('legacyNacks: INVALID_JSON NACKs carry the composite text in "error" as in the CCS document', () =>
  session(async (c) => {
    const m = await c.request({ to: 'APA91bHFOtaQGSwupt5l1og', message_id: 'msgId1', time_to_live: -1 });
    assert.equal(m.payload, {
      from: 'APA91bHFOtaQGSwupt5l1og', message_id: 'msgId1', message_type: 'nack',
      error: 'InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live": must be between 0 and "2419200"\n',
    });
    assert.is(m.kind === 'nack' && m.error.code, 'INVALID_JSON');
    assert.is(m.kind === 'nack' && m.error.reason, 'INVALID_TTL');
  }, { legacyNacks: true }));

test('legacyNacks: authfailed-… and quota-… tokens get AUTHENTICATION_FAILED and QUOTA_EXCEEDED; without it they are devices', async () => {
  await session(async (c, emu) => {
    const a = await c.request({ to: 'authfailed-1', message_id: 'a' });
    const q = await c.request({ to: 'quota-1', message_id: 'q' });
    assert.is(a.kind === 'nack' && a.error.code, 'AUTHENTICATION_FAILED');
    assert.is(q.kind === 'nack' && q.error.code, 'QUOTA_EXCEEDED');
    assert.equal(emu.ledger().nacked, { AUTHENTICATION_FAILED: 1, QUOTA_EXCEEDED: 1 });
  }, { legacyNacks: true });
  await session(async (c) => {
    assert.is((await c.request({ to: 'quota-1', message_id: 'q' })).kind, 'ack');
    const m = await c.request({ to: 't', message_id: 'ttl', time_to_live: -1 });
    assert.is(m.payload?.['error'], 'INVALID_JSON');
  });
});

test('the CLI flags reach the options', () => {
  const { options } = parseCommandLine([
    '--offline-share', '0.3', '--idle-share', '0.1', '--mean-phase-messages', '4',
    '--device-state', 'tok=offline', '--device-state', 'tok=online@2500', '--device-group', 'key=a,b',
    '--max-pending-downstream', '100', '--strict-flow-control', '--legacy-nacks',
  ], {});
  assert.equal(options.deviceSchedule, { offlineShare: 0.3, idleShare: 0.1, meanMessages: 4 });
  assert.equal(options.deviceScript, [{ token: 'tok', state: 'offline', atMs: 0 }, { token: 'tok', state: 'online', atMs: 2500 }]);
  assert.equal(options.deviceGroups, { key: ['a', 'b'] });
  assert.equal([options.maxPendingDownstream, options.strictFlowControl, options.legacyNacks], [100, true, true]);
  assert.throws(() => parseCommandLine(['--device-state', 'tok=asleep'], {}), /--device-state needs/);
  assert.throws(() => parseCommandLine(['--device-group', 'key='], {}), /--device-group needs/);
});

test.run();
