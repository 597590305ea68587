// Integration against the project's CCS emulator over real TLS on 127.0.0.1: the handshake, each
// NACK class, draining, a connection cut mid-window with nothing lost, the window never exceeded,
// upstream de-duplication across reconnects, and close() waiting for ACKs.
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, HandshakeError, NackError, type CcsClientOptions } from '../src/index.js';
import { quiet } from './helpers/scripted-server.js';

const SENDER = '1234567890';
const KEY = 'emulator-api-key';

async function withEmulator(fn: (emu: CcsEmulator, opts: CcsClientOptions) => Promise<void>, emuOpts: ConstructorParameters<typeof CcsEmulator>[0] = {}): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 7, keepaliveIntervalMs: 0, ...emuOpts });
  await emu.start();
  const opts: CcsClientOptions = {
    senderId: SENDER, apiKey: KEY, host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' },
    reconnectBaseMs: 5, reconnectMaxMs: 50, retryBaseMs: 5, retryMaxMs: 40, handshakeTimeoutMs: 3000,
  };
  try {
    await fn(emu, opts);
  } finally {
    await emu.stop();
  }
}

const until = async (pred: () => boolean, timeoutMs = 3000): Promise<void> => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('emulator: handshake, send, ACK with canonical registration_id', async () => {
  await withEmulator(async (emu, opts) => {
    const client = new CcsClient(opts);
    try {
      await client.connect();
      assert.is(emu.connections().length, 1);
      assert.is(emu.connections()[0]?.jid?.startsWith(`${SENDER}@gcm.googleapis.com`), true);
      const r = await client.send({ to: 'device-a', data: { hello: 'world' } });
      assert.is(r.registrationId, undefined);
      const c = await client.send({ to: 'canonical-NEWTOKEN', data: {} });
      assert.is(c.registrationId, 'NEWTOKEN');
      assert.is(emu.deliveredTo('device-a').length, 1);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
});

test('emulator: a wrong API key fails with step auth / not-authorized', async () => {
  await withEmulator(async (_emu, opts) => {
    const client = new CcsClient({ ...opts, apiKey: 'nope' });
    const err = (await client.connect().catch((e: unknown) => e)) as HandshakeError;
    assert.instance(err, HandshakeError);
    assert.is(err.step, 'auth');
    assert.is(err.condition, 'not-authorized');
    client.destroy();
  });
});

test('emulator: each NACK class is handled by its retry class', async () => {
  await withEmulator(async (emu, opts) => {
    const client = new CcsClient({ ...opts, maxRetries: 3 });
    try {
      await client.connect();
      for (const [to, code] of [['unregistered-1', 'DEVICE_UNREGISTERED'], ['bad-1', 'BAD_REGISTRATION']] as const) {
        const err = (await client.send({ to }).catch((e: unknown) => e)) as NackError;
        assert.instance(err, NackError, to);
        assert.is(err.nackCode, code);
        assert.is(err.retries, 0, 'never retried');
      }
      // Rate-limited device: retried (slowed down) until the retry limit, then failed.
      const rl = (await client.send({ to: 'ratelimited-1' }).catch((e: unknown) => e)) as NackError;
      assert.is(rl.nackCode, 'DEVICE_MESSAGE_RATE_EXCEEDED');
      assert.is(rl.retryClass, 'slow-down-device');
      assert.is(rl.retries, 3);
      const tl = (await client.send({ to: '/topics/ratelimited-news' }).catch((e: unknown) => e)) as NackError;
      assert.is(tl.nackCode, 'TOPICS_MESSAGE_RATE_EXCEEDED');
      assert.is(tl.retries, 3);
      // SERVICE_UNAVAILABLE for every message: retried with backoff, then resolved when it clears.
      emu.setFaults({ serviceUnavailableRate: 1 });
      const p = quiet(client.send({ to: 'device-b' }));
      await until(() => (client.stats().nacked.SERVICE_UNAVAILABLE ?? 0) >= 1);
      emu.setFaults({ serviceUnavailableRate: 0 });
      const r = await p;
      assert.ok(r.retries >= 1);
      emu.setFaults({ internalErrorRate: 1 });
      const p2 = quiet(client.send({ to: 'device-c' }));
      await until(() => (client.stats().nacked.INTERNAL_SERVER_ERROR ?? 0) >= 1);
      emu.setFaults({ internalErrorRate: 0 });
      await p2;
      assert.is(emu.ledger().downstreamDuplicates, 0);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
});

test('emulator: CONNECTION_DRAINING moves sending to a new connection; nothing is lost', async () => {
  await withEmulator(async (emu, opts) => {
    const client = new CcsClient({ ...opts, maxPending: 20 });
    const events: string[] = [];
    client.on('draining', () => events.push('draining'));
    const offline: Array<{ error?: Error; drained?: boolean }> = [];
    client.on('offline', (e: { error?: Error; drained?: boolean }) => {
      events.push('offline');
      offline.push(e);
    });
    try {
      await client.connect();
      emu.setFaults({ ackDelayMs: 30 });
      const first = Array.from({ length: 30 }, (_, i) => quiet(client.send({ to: `dev-${i % 3}`, message_id: `dr-${i}` })));
      await until(() => client.stats().pending > 0);
      assert.is(emu.drain({ senderId: SENDER }), 1);
      const second = Array.from({ length: 30 }, (_, i) => quiet(client.send({ to: `dev-${i % 3}`, message_id: `dr2-${i}` })));
      await Promise.all([...first, ...second]);
      await until(() => events.includes('offline'));
      assert.equal(events.slice(0, 1), ['draining']);
      assert.is(offline[0]?.error, undefined, 'CCS closing a drained connection is not a loss');
      assert.is(offline[0]?.drained, true);
      const l = emu.ledger();
      assert.is(l.downstreamUnique, 60);
      assert.is(l.downstreamDuplicates, 0);
      assert.is(client.stats().connections.online, 1);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
});

test('emulator: the client answers the ping that follows CONNECTION_DRAINING, and the emulator then closes the drained connection', async () => {
  // Both deadlines far away: only the client's answer to the emulator's ping can end the connection.
  await withEmulator(async (emu, opts) => {
    const client = new CcsClient({ ...opts, drainTimeoutMs: 60_000 });
    const offline: Array<{ error?: Error; drained?: boolean }> = [];
    client.on('offline', (e: { error?: Error; drained?: boolean }) => void offline.push(e));
    try {
      await client.connect();
      await client.send({ to: 'dev-0', message_id: 'before-drain' });
      assert.is(emu.drain({ senderId: SENDER }), 1);
      await until(() => offline.length > 0, 20_000);
      assert.is(offline[0]?.error, undefined, 'a clean close by the emulator');
      assert.is(offline[0]?.drained, true);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  }, { drainTimeoutMs: 60_000 });
});

test('emulator: a connection cut mid-window loses nothing, never exceeds the window, and the handler sees each upstream once', async () => {
  await withEmulator(async (emu, opts) => {
    const seen: string[] = [];
    const client = new CcsClient({ ...opts, maxPending: 10, onUpstream: (m) => void seen.push(m.messageId) });
    let maxPending = 0;
    try {
      await client.connect();
      emu.setFaults({ ackDelayMs: 5, cutAfterStanzas: 25 });
      const timer = setInterval(() => {
        maxPending = Math.max(maxPending, client.stats().pending);
      }, 1);
      const ps = Array.from({ length: 120 }, (_, i) => quiet(client.send({ to: `dev-${i % 7}`, message_id: `cut-${i}` })));
      for (let i = 0; i < 20; i++) emu.injectUpstream(SENDER, { from: `dev-${i % 4}`, message_id: `up-${i}`, data: { i } });
      await until(() => client.stats().reconnects >= 1, 5000);
      emu.setFaults({ cutAfterStanzas: undefined, ackDelayMs: 0 });
      const rs = await Promise.all(ps);
      clearInterval(timer);
      assert.is(rs.length, 120);
      assert.ok(maxPending <= 10, `pending peaked at ${maxPending}`);
      await until(() => emu.ledger().upstreamAcked === 20, 5000);
      assert.is(new Set(seen).size, 20);
      assert.is(seen.length, 20, 'each upstream message handled once');
      const l = emu.ledger();
      assert.is(l.downstreamUnique, 120, 'nothing lost');
      assert.ok(client.stats().reconnects >= 1);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
});

test('emulator: receipts are surfaced and ACKed', async () => {
  await withEmulator(async (emu, opts) => {
    const client = new CcsClient(opts);
    const receipts: string[] = [];
    client.on('receipt', (r) => receipts.push(String(r.originalMessageId)));
    try {
      await client.connect();
      await client.send({ to: 'device-r', message_id: 'with-receipt', delivery_receipt_requested: true });
      await until(() => receipts.length === 1);
      assert.equal(receipts, ['with-receipt']);
      await until(() => emu.ledger().receiptsAcked === 1);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
});

test('emulator: close() waits for delayed ACKs before ending the stream', async () => {
  await withEmulator(async (emu, opts) => {
    const client = new CcsClient(opts);
    await client.connect();
    emu.setFaults({ ackDelayMs: 100 });
    const ps = Array.from({ length: 5 }, () => quiet(client.send({ to: 'device-z' })));
    await until(() => client.stats().pending === 5);
    const t0 = Date.now();
    await client.close({ timeoutMs: 2000 });
    assert.ok(Date.now() - t0 >= 80, 'waited for the ACKs');
    const rs = await Promise.all(ps);
    assert.is(rs.length, 5);
    assert.is(client.stats().acked, 5);
  });
});

test('emulator: a rate-limited device under its average rate gets every message, in the order sent (regression)', async () => {
  await withEmulator(async (emu, opts) => {
    // 10 msgs/s allowed; bursts of 14 every 1.5 s average 9.3/s. Before, the first ACK lifted the
    // slow-down, new messages overtook the parked ones and retries ran out: messages failed.
    emu.addDevice('chatty', { maxPerSecond: 10 });
    const client = new CcsClient({ ...opts, retryBaseMs: 100, retryMaxMs: 1000, maxRetries: 8 });
    try {
      await client.connect();
      const sent: string[] = [];
      const results: Array<Promise<unknown>> = [];
      for (let burst = 0; burst < 3; burst++) {
        for (let k = 0; k < 14; k++) {
          const id = `b${burst}-${k}`;
          sent.push(id);
          results.push(client.send({ to: 'chatty', data: { k }, message_id: id }));
        }
        if (burst < 2) await new Promise((r) => setTimeout(r, 1500));
      }
      const settled = await Promise.allSettled(results);
      assert.equal(settled.filter((r) => r.status === 'rejected').length, 0, 'none failed');
      assert.equal(emu.deliveredTo('chatty').map((d) => d.message_id), sent, 'delivered in the order sent');
      assert.ok((emu.ledger().nacked['DEVICE_MESSAGE_RATE_EXCEEDED'] ?? 0) > 0, 'the limit was hit');
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
});

test('emulator: with nothing consuming upstream, upstream messages are left un-ACKed (CCS redelivers), not lost', async () => {
  await withEmulator(async (emu, opts) => {
    const client = new CcsClient(opts);
    try {
      await client.connect();
      emu.injectUpstream(SENDER, { message_id: 'nobody-listens', data: { a: 1 } });
      await until(() => client.stats().upstreamUnhandled > 0);
      await new Promise((r) => setTimeout(r, 50));
      assert.is(emu.ledger().upstreamAcked, 0);
      assert.is(emu.ledger().upstreamUnacked, 1);
      assert.is(client.stats().upstreamAcked, 0);
    } finally {
      await client.close({ timeoutMs: 500 });
    }
  });
});

test.run();
