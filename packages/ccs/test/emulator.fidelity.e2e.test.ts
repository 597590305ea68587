// The client against the emulator's fidelity features, over real TLS on 127.0.0.1: a device-group
// ACK's counts in SendResult, both legacy NACK shapes classified, a message held for an offline
// device whose dr2: receipt arrives when it reconnects, TTL expiry, and the flow-control check
// (this client within the window is never counted; one that ignores it is).
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, NackError, type CcsClientOptions, type ReceiptMessage } from '../src/index.js';

async function withEmulator(fn: (emu: CcsEmulator, opts: CcsClientOptions) => Promise<void>, emuOpts: ConstructorParameters<typeof CcsEmulator>[0] = {}): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 7, keepaliveIntervalMs: 0, ...emuOpts });
  await emu.start();
  const opts: CcsClientOptions = {
    senderId: '1234567890', apiKey: 'emulator-api-key', host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' },
    reconnectBaseMs: 5, reconnectMaxMs: 50, retryBaseMs: 5, retryMaxMs: 40, handshakeTimeoutMs: 5000,
  };
  try {
    await fn(emu, opts);
  } finally {
    await emu.stop();
  }
}

const until = async (pred: () => boolean, timeoutMs = 5000): Promise<void> => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('emulator: a device-group send resolves with its success/failure counts and the failed tokens', () =>
  withEmulator(async (_emu, opts) => {
    const client = new CcsClient(opts);
    try {
      await client.connect();
      const r = await client.send({ to: 'group-key', message_id: 'g-1', data: { hello: 'group' } });
      assert.equal(r.deviceGroup, { success: 2, failure: 1, failedRegistrationIds: ['unregistered-3'] });
    } finally {
      await client.close({ timeoutMs: 2000 });
    }
  }, { deviceGroups: { 'group-key': ['p1', 'p2', 'unregistered-3'] } }));

test('emulator with legacyNacks: the composite-in-error NACK and AUTHENTICATION_FAILED / QUOTA_EXCEEDED are final, never retried', () =>
  withEmulator(async (emu, opts) => {
    const client = new CcsClient(opts);
    try {
      await client.connect();
      for (const [to, code] of [['authfailed-1', 'AUTHENTICATION_FAILED'], ['quota-1', 'QUOTA_EXCEEDED']] as const) {
        const err = await client.send({ to }).catch((e: unknown) => e);
        assert.instance(err, NackError);
        assert.is((err as NackError).nackCode, code);
        assert.is((err as NackError).retries, 0);
      }
      const topic = await client.send({ to: '/topics/bad name', message_id: 'bad-topic' }).catch((e: unknown) => e);
      assert.instance(topic, NackError);
      assert.is((topic as NackError).nackCode, 'INVALID_JSON');
      assert.is((topic as NackError).reason, 'INVALID_TARGET');
      assert.ok((topic as NackError).raw.startsWith('InvalidJson : INVALID_TARGET : '), (topic as NackError).raw);
      assert.equal(emu.ledger().nacked, { AUTHENTICATION_FAILED: 1, QUOTA_EXCEEDED: 1, INVALID_JSON: 1 });
    } finally {
      await client.close({ timeoutMs: 2000 });
    }
  }, { legacyNacks: true }));

test('emulator: a message to an offline device is ACKed, held, and its receipt arrives only when the device reconnects', () =>
  withEmulator(async (emu, opts) => {
    const client = new CcsClient(opts);
    const receipts: ReceiptMessage[] = [];
    client.on('receipt', (r: ReceiptMessage) => receipts.push(r));
    try {
      await client.connect();
      emu.deviceModel.set('phone', 'offline');
      const r = await client.send({ to: 'phone', message_id: 'held-1', delivery_receipt_requested: true, time_to_live: '600' });
      assert.is(r.messageId, 'held-1');
      await client.send({ to: 'phone', message_id: 'gone', time_to_live: 0 });
      await new Promise((res) => setTimeout(res, 100));
      assert.is(receipts.length, 0);
      emu.deviceModel.set('phone', 'online');
      await until(() => receipts.length === 1);
      assert.is(receipts[0]?.originalMessageId, 'held-1');
      assert.equal(emu.deliveredTo('phone').map((d) => d.message_id), ['held-1']);
      assert.equal(emu.deviceModel.log('phone').map((x) => `${x.message_id}:${x.fate}`), ['held-1:held', 'gone:expired', 'held-1:delivered']);
    } finally {
      await client.close({ timeoutMs: 2000 });
    }
  }));

test('emulator flow-control check: this client within its window is never counted; one with a window past the server\'s is', async () => {
  const run = async (maxPending: number): Promise<{ max: number; violations: number }> => {
    let out = { max: 0, violations: 0 };
    await withEmulator(async (emu, opts) => {
      const client = new CcsClient({ ...opts, maxPending });
      try {
        await client.connect();
        await Promise.all(Array.from({ length: 60 }, (_, i) => client.send({ to: `d${i % 7}`, message_id: `fc-${maxPending}-${i}` })));
        const c = emu.connections()[0];
        out = { max: c?.flowControl.maxUnanswered ?? -1, violations: emu.ledger().flowControlViolations };
      } finally {
        await client.close({ timeoutMs: 2000 });
      }
    }, { maxPendingDownstream: 20, faults: { ackDelayMs: 200 } });
    return out;
  };
  const good = await run(20);
  assert.ok(good.max <= 20 && good.max > 1, JSON.stringify(good));
  assert.is(good.violations, 0);
  const bad = await run(3000);
  assert.ok(bad.max > 20, JSON.stringify(bad));
  assert.ok(bad.violations > 0);
});

test.run();
