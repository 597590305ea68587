// The diagnostics_channel tracing: for each channel, subscribe, run a scripted exchange with the
// project's CCS emulator over real TLS on 127.0.0.1, and check the messages published. Channels are
// process-wide, so each test keeps only the messages of its own client (its connection ids and
// message ids).
import * as dc from 'node:diagnostics_channel';
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, channelNames, ccsChannels, type CcsClientOptions } from '../src/index.js';
import { quiet } from './helpers/scripted-server.js';

const SENDER = '1234567890';
const KEY = 'emulator-api-key';

type Recorded = Array<{ channel: string; msg: Record<string, unknown> }>;

/** Runs `fn` against a fresh emulator while subscribed to `names`; returns what was published. */
async function traced(names: string[], fn: (emu: CcsEmulator, opts: CcsClientOptions) => Promise<void>): Promise<Recorded> {
  const emu = new CcsEmulator({ port: 0, seed: 7, keepaliveIntervalMs: 0 });
  await emu.start();
  const seen: Recorded = [];
  const subs = names.map((name) => {
    const fn = (msg: unknown): void => void seen.push({ channel: name, msg: msg as Record<string, unknown> });
    dc.subscribe(name, fn);
    return [name, fn] as const;
  });
  const opts: CcsClientOptions = {
    senderId: SENDER, apiKey: KEY, host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' },
    reconnectBaseMs: 5, reconnectMaxMs: 50, retryBaseMs: 5, retryMaxMs: 40, handshakeTimeoutMs: 5000,
  };
  try {
    await fn(emu, opts);
  } finally {
    for (const [name, fn] of subs) dc.unsubscribe(name, fn);
    await emu.stop();
  }
  return seen;
}

const until = async (pred: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** The ids of the client's connections, from its events. */
function connectionIds(client: CcsClient): Set<string> {
  const ids = new Set<string>();
  client.on('online', (e: { connectionId: string }) => ids.add(e.connectionId));
  return ids;
}

test('the channels are the ones documented, and nobody subscribes by default', () => {
  assert.equal(Object.values(channelNames).sort(), [
    'ccs:connection:closed', 'ccs:connection:connecting', 'ccs:connection:draining', 'ccs:connection:online', 'ccs:receipt', 'ccs:receipt:failed',
    'ccs:send:acked', 'ccs:send:enqueued', 'ccs:send:failed', 'ccs:send:nacked', 'ccs:send:resent', 'ccs:send:retried', 'ccs:send:written',
    'ccs:stream:error', 'ccs:upstream:acked', 'ccs:upstream:duplicate', 'ccs:upstream:handled', 'ccs:upstream:received',
  ]);
  for (const [key, name] of Object.entries(channelNames)) {
    const channel = ccsChannels[key as keyof typeof ccsChannels];
    assert.is(channel, dc.channel(name), `${key} is diagnostics_channel.channel(${name})`);
    assert.is(channel.hasSubscribers, false, name);
  }
});

test('ccs:connection:connecting, online, draining and closed trace a connection from open to a drained close', async () => {
  let ids = new Set<string>();
  const seen = await traced([channelNames.connecting, channelNames.online, channelNames.draining, channelNames.closed], async (emu, opts) => {
    const client = new CcsClient(opts);
    ids = connectionIds(client);
    try {
      await client.connect();
      assert.is(emu.drain({ senderId: SENDER }), 1);
      // The replacement comes online and CCS closes the drained one.
      await until(() => ids.size === 2 && client.stats().connections.draining === 0);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
  const [first, second] = [...ids];
  const mine = seen.filter((s) => ids.has(s.msg['connectionId'] as string));
  const of = (id: string | undefined): string[] => mine.filter((s) => s.msg['connectionId'] === id).map((s) => `${s.channel}${s.msg['reason'] ? `:${String(s.msg['reason'])}` : ''}`);
  assert.equal(of(first), ['ccs:connection:connecting', 'ccs:connection:online', 'ccs:connection:draining', 'ccs:connection:closed:drained']);
  assert.equal(of(second), ['ccs:connection:connecting', 'ccs:connection:online', 'ccs:connection:closed:closed']);
  const connecting = mine.find((s) => s.channel === channelNames.connecting)?.msg;
  assert.equal({ host: connecting?.['host'], port: typeof connecting?.['port'] }, { host: '127.0.0.1', port: 'number' });
  const closed = mine.filter((s) => s.channel === channelNames.closed).map((s) => s.msg);
  assert.is(closed[0]?.['error'], undefined, 'a drained close is no error');
  assert.is(closed[0]?.['owed'], 0);
});

test('ccs:connection:closed reports a failed handshake with its HandshakeError (reason failed)', async () => {
  const seen = await traced([channelNames.closed], async (_emu, opts) => {
    const client = new CcsClient({ ...opts, apiKey: 'wrong-key' });
    await client.connect().catch(() => undefined);
    client.destroy();
  });
  const failed = seen.filter((s) => s.msg['reason'] === 'failed');
  assert.is(failed.length, 1);
  const err = failed[0]?.msg['error'] as { code?: string; message: string };
  assert.is(err.code, 'CCS_ERR_AUTH');
  assert.not.ok(err.message.includes('wrong-key'), 'no key in the error');
});

test('ccs:send:enqueued, written and acked trace each message, with the connection and the ACK latency', async () => {
  let ids = new Set<string>();
  let conn = '';
  const seen = await traced([channelNames.enqueued, channelNames.written, channelNames.acked], async (_emu, opts) => {
    const client = new CcsClient(opts);
    ids = connectionIds(client);
    try {
      await client.connect();
      conn = [...ids][0] as string;
      await Promise.all([client.send({ to: 'device-a', message_id: 'tr-1' }), client.send({ to: 'canonical-NEW', message_id: 'tr-2' })]);
      const stats = client.stats();
      assert.is(stats.ackLatency.count, 2);
      assert.ok(stats.ackLatency.maxMs > 0);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
  const mine = seen.filter((s) => String(s.msg['messageId']).startsWith('tr-'));
  assert.equal(mine.filter((s) => s.msg['messageId'] === 'tr-1').map((s) => s.channel), ['ccs:send:enqueued', 'ccs:send:written', 'ccs:send:acked']);
  assert.equal(mine.find((s) => s.channel === channelNames.enqueued)?.msg, { messageId: 'tr-1', to: 'device-a' });
  assert.equal(mine.find((s) => s.channel === channelNames.written)?.msg, { messageId: 'tr-1', connectionId: conn, attempt: 1 });
  const acks = mine.filter((s) => s.channel === channelNames.acked).map((s) => s.msg);
  assert.is(acks.length, 2);
  for (const a of acks) {
    assert.type(a['latencyMs'], 'number');
    assert.ok((a['latencyMs'] as number) >= 0 && (a['latencyMs'] as number) < 10_000);
    assert.is(a['retries'], 0);
  }
  assert.is(acks.find((a) => a['messageId'] === 'tr-2')?.['registrationId'], 'NEW');
});

test('ccs:send:nacked and retried trace a retried NACK; failed traces the NACK that ends a send', async () => {
  const seen = await traced([channelNames.nacked, channelNames.retried, channelNames.failed, channelNames.written], async (emu, opts) => {
    const client = new CcsClient(opts);
    try {
      await client.connect();
      await client.send({ to: 'unregistered-1', message_id: 'nk-1' }).catch(() => undefined);
      emu.setFaults({ serviceUnavailableRate: 1 });
      const p = quiet(client.send({ to: 'device-b', message_id: 'nk-2' }));
      await until(() => (client.stats().nacked.SERVICE_UNAVAILABLE ?? 0) >= 1);
      emu.setFaults({ serviceUnavailableRate: 0 });
      await p;
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
  const mine = (ch: string, id: string): Array<Record<string, unknown>> => seen.filter((s) => s.channel === ch && s.msg['messageId'] === id).map((s) => s.msg);
  const n1 = mine(channelNames.nacked, 'nk-1');
  assert.is(n1.length, 1);
  assert.is(n1[0]?.['code'], 'DEVICE_UNREGISTERED');
  assert.is(n1[0]?.['outcome'], 'fail');
  assert.is(n1[0]?.['stanzaError'], false);
  assert.type(n1[0]?.['latencyMs'], 'number');
  assert.equal(mine(channelNames.failed, 'nk-1').map((m) => (m['error'] as { code: string }).code), ['CCS_ERR_NACK']);
  assert.is(mine(channelNames.retried, 'nk-1').length, 0, 'a fatal NACK is not retried');
  const n2 = mine(channelNames.nacked, 'nk-2');
  assert.ok(n2.length >= 1);
  assert.ok(n2.every((m) => m['code'] === 'SERVICE_UNAVAILABLE' && m['outcome'] === 'wait'));
  const r2 = mine(channelNames.retried, 'nk-2');
  assert.is(r2.length, n2.length, 'each retried NACK is traced as a retry');
  assert.is(r2[0]?.['retries'], 1);
  assert.ok((r2[0]?.['delayMs'] as number) > 0, 'a backoff delay');
  const writes = mine(channelNames.written, 'nk-2').map((m) => m['attempt']);
  assert.equal(writes, Array.from({ length: n2.length + 1 }, (_, i) => i + 1), 'attempts count up');
  assert.is(mine(channelNames.failed, 'nk-2').length, 0);
});

test('ccs:send:resent and ccs:stream:error trace a cut connection; closed says lost with what it owed', async () => {
  let ids = new Set<string>();
  const seen = await traced([channelNames.resent, channelNames.streamError, channelNames.closed], async (emu, opts) => {
    const client = new CcsClient({ ...opts, maxPending: 10 });
    ids = connectionIds(client);
    try {
      await client.connect();
      emu.setFaults({ ackDelayMs: 20, cutAfterStanzas: 5 });
      const ps = Array.from({ length: 10 }, (_, i) => quiet(client.send({ to: `dev-${i % 3}`, message_id: `rs-${i}` })));
      await until(() => client.stats().reconnects >= 1);
      emu.setFaults({ cutAfterStanzas: undefined, ackDelayMs: 0 });
      await Promise.all(ps);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
  const first = [...ids][0];
  const lost = seen.filter((s) => s.channel === channelNames.closed && s.msg['connectionId'] === first);
  assert.is(lost.length, 1);
  assert.is(lost[0]?.msg['reason'], 'lost');
  assert.instance(lost[0]?.msg['error'], Error);
  const owed = lost[0]?.msg['owed'] as number;
  assert.ok(owed >= 1, 'it owed answers');
  const resent = seen.filter((s) => s.channel === channelNames.resent && String(s.msg['messageId']).startsWith('rs-'));
  assert.is(resent.length, owed, 'each owed message is resent');
  const errs = seen.filter((s) => s.channel === channelNames.streamError && s.msg['connectionId'] === first);
  assert.is(errs.length, 1);
  assert.is(errs[0]?.msg['fatal'], true);
});

test('ccs:upstream:received, duplicate, handled and acked trace upstream messages once each', async () => {
  let ids = new Set<string>();
  const seen = await traced([channelNames.upstreamReceived, channelNames.upstreamDuplicate, channelNames.upstreamHandled, channelNames.upstreamAcked], async (emu, opts) => {
    let failOnce = true;
    const client = new CcsClient({
      ...opts,
      onUpstream: (m) => {
        if (m.messageId === 'up-bad' && failOnce) {
          failOnce = false;
          throw new Error('handler failed');
        }
      },
    });
    client.on('error', () => undefined);
    ids = connectionIds(client);
    try {
      await client.connect();
      emu.injectUpstream(SENDER, { from: 'dev-u', message_id: 'up-1', data: { a: 1 } });
      await until(() => emu.ledger().upstreamAcked === 1);
      // The same message again (CCS resending): dropped as a duplicate and ACKed again.
      emu.injectUpstream(SENDER, { from: 'dev-u', message_id: 'up-1', data: { a: 1 } });
      emu.injectUpstream(SENDER, { from: 'dev-u', message_id: 'up-bad', data: { a: 2 } });
      await until(() => client.stats().upstreamReceived === 3 && client.stats().upstreamAcked === 2);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
  const conn = [...ids][0];
  const of = (ch: string): Array<Record<string, unknown>> => seen.filter((s) => s.channel === ch).map((s) => s.msg).filter((m) => String(m['messageId']).startsWith('up-'));
  const received = of(channelNames.upstreamReceived);
  assert.equal(received.map((m) => [m['connectionId'], m['from'], m['messageId']]), [[conn, 'dev-u', 'up-1'], [conn, 'dev-u', 'up-1'], [conn, 'dev-u', 'up-bad']]);
  assert.ok(received.every((m) => typeof m['category'] === 'string'), 'the app category (the emulator sets its own)');
  assert.equal(of(channelNames.upstreamDuplicate), [{ connectionId: conn, from: 'dev-u', messageId: 'up-1' }]);
  const handled = of(channelNames.upstreamHandled);
  assert.equal(handled.map((m) => [m['messageId'], m['error'] === undefined ? 'ok' : (m['error'] as Error).message]), [['up-1', 'ok'], ['up-bad', 'handler failed']]);
  assert.equal(of(channelNames.upstreamAcked), [{ connectionId: conn, to: 'dev-u', messageId: 'up-1' }, { connectionId: conn, to: 'dev-u', messageId: 'up-1' }]);
});

test('ccs:receipt traces a delivery receipt with the message it is about', async () => {
  let ids = new Set<string>();
  const seen = await traced([channelNames.receipt, channelNames.upstreamAcked], async (emu, opts) => {
    const client = new CcsClient(opts);
    ids = connectionIds(client);
    client.on('receipt', () => undefined);
    try {
      await client.connect();
      await client.send({ to: 'device-r', message_id: 'rc-1', delivery_receipt_requested: true });
      await until(() => emu.ledger().receiptsAcked === 1);
    } finally {
      await client.close({ timeoutMs: 1000 });
    }
  });
  const conn = [...ids][0];
  const receipts = seen.filter((s) => s.channel === channelNames.receipt && s.msg['originalMessageId'] === 'rc-1').map((s) => s.msg);
  assert.is(receipts.length, 1);
  assert.is(receipts[0]?.['connectionId'], conn);
  assert.is(receipts[0]?.['duplicate'], false);
  assert.is(receipts[0]?.['awaited'], false, 'no send({ receipt: true }) waited for it');
  assert.type(receipts[0]?.['status'], 'string');
  const receiptId = receipts[0]?.['messageId'];
  assert.ok(String(receiptId).startsWith('dr2:'), 'the receipt\'s own id');
  assert.ok(seen.some((s) => s.channel === channelNames.upstreamAcked && s.msg['messageId'] === receiptId), 'its ACK is traced');
});

test.run();
