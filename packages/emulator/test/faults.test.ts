import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pingIq } from '@ccs-xmpp/stanza';
import { CcsEmulator, EmulatorError, type CcsEmulatorOptions, type EmulatorEvent } from '../src/index.js';
import { TestClient, sleep, until } from './helpers/client.js';

async function withEmulator(fn: (emu: CcsEmulator) => Promise<void>, options: CcsEmulatorOptions = {}): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 11, ...options });
  await emu.start();
  try {
    await fn(emu);
  } finally {
    await emu.stop();
  }
}

test('cutAfterStanzas cuts the connection right after the Nth message; its ACK is lost', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    for (let i = 1; i <= 3; i++) c.sendJson({ to: 'tok', message_id: `m-${i}` });
    const err = await c.closed;
    assert.ok(err?.code === 'STREAM_ERR_PEER_CLOSED' || err?.code === 'STREAM_ERR_SOCKET', String(err?.code));
    const acks = c.received.filter((el) => el.local === 'message').length;
    assert.ok(acks <= 2, `at most the first two ACKs arrive (got ${acks})`);
    assert.is(emu.ledger().downstreamDelivered, 3, 'the third was delivered before the cut');
  }, { faults: { cutAfterStanzas: 3 } }));

test('cutProbability with a seed cuts at the same message every run', async () => {
  const cutAt = async (): Promise<number> => {
    let at = -1;
    await withEmulator(async (emu) => {
      const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
      // writable, not only !isClosed: the stream is "closing" between the cut and the close event.
      for (let i = 0; i < 200 && !c.isClosed && c.conn.writable; i++) {
        c.sendJson({ to: 'tok', message_id: `m-${i}` });
        await sleep(0);
      }
      await c.closed;
      at = emu.ledger().downstreamDelivered;
    }, { faults: { cutProbability: 0.1 }, seed: 99 });
    return at;
  };
  const first = await cutAt();
  assert.ok(first >= 1 && first < 200, String(first));
  assert.is(await cutAt(), first);
});

test('ackDelayMs holds ACKs back', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const t0 = Date.now();
    const order: string[] = [];
    const slowArrived = new Promise<void>((resolve) => {
      const seen = (e: EmulatorEvent): void => {
        if (e.type === 'downstream' && e.messageId === 'slow') { emu.off('event', seen); resolve(); }
      };
      emu.on('event', seen);
    });
    const slow = c.request({ to: 'tok', message_id: 'slow' }).then((m) => { order.push('slow'); return m; });
    // Cleared faults apply to the next message at once: its ACK overtakes the held one. Order,
    // not elapsed time, tells them apart, so a loaded machine cannot fail this.
    await slowArrived;
    emu.setFaults({});
    const fast = await c.request({ to: 'tok', message_id: 'fast' }).then((m) => { order.push('fast'); return m; });
    assert.is(fast.kind, 'ack');
    assert.is((await slow).kind, 'ack');
    assert.equal(order, ['fast', 'slow']);
    // A timer never fires early, so the lower bound holds however slow the machine is.
    assert.ok(Date.now() - t0 >= 1900, `${Date.now() - t0} ms`);
    await c.close();
  }, { faults: { ackDelayMs: 2000 } }));

test('serviceUnavailableRate and internalErrorRate NACK that fraction, from the seeded PRNG', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    emu.setFaults({ serviceUnavailableRate: 1 });
    const a = await c.request({ to: 'tok', message_id: 'su' });
    assert.is(a.kind === 'nack' && a.error.code, 'SERVICE_UNAVAILABLE');
    emu.setFaults({ internalErrorRate: 1 });
    const b = await c.request({ to: 'tok', message_id: 'ie' });
    assert.is(b.kind === 'nack' && b.error.code, 'INTERNAL_SERVER_ERROR');
    emu.setFaults({ serviceUnavailableRate: 0.3 });
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => c.request({ to: 'tok', message_id: `f-${i}` })));
    const nacks = answers.filter((m) => m.kind === 'nack').length;
    assert.ok(nacks > 30 && nacks < 90, `${nacks} of 200`);
    assert.is(emu.ledger().nacked['SERVICE_UNAVAILABLE'], nacks + 1);
    assert.is(emu.ledger().downstreamDelivered, 200 - nacks);
    await c.close();
  }));

test('per-connection faults override the global ones for that connection only', () =>
  withEmulator(async (emu) => {
    const a = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const b = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const idA = emu.connections().find((x) => x.jid === a.jid)!.id;
    emu.setFaults({ serviceUnavailableRate: 1 }, { connectionId: idA });
    assert.is((await a.request({ to: 't', message_id: 'a1' })).kind, 'nack');
    assert.is((await b.request({ to: 't', message_id: 'b1' })).kind, 'ack');
    await Promise.all([a.close(), b.close()]);
  }));

test('stallMs stops reading the connection for that long', () =>
  withEmulator(async (emu) => {
    const events: EmulatorEvent[] = [];
    emu.on('event', (e: EmulatorEvent) => events.push(e));
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const id = emu.connections()[0]!.id;
    emu.setFaults({ stallMs: 150 }, { connectionId: id });
    const t0 = Date.now();
    c.conn.send(pingIq('p'));
    await c.waitFor((el) => el.attr('id') === 'p');
    assert.ok(Date.now() - t0 >= 130, `${Date.now() - t0} ms`);
    assert.ok(events.some((e) => e.type === 'fault' && e['fault'] === 'stall'));
    await c.close();
  }));

test('a stall in the global faults applies to each new connection after bind', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const t0 = Date.now();
    assert.is((await c.request({ to: 'tok', message_id: 's' })).kind, 'ack');
    assert.ok(Date.now() - t0 >= 80, `${Date.now() - t0} ms`);
    await c.close();
  }, { faults: { stallMs: 100 } }));

test('tinyWrites splits what the emulator writes into tiny TLS records, and it still parses', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    emu.setFaults({ tinyWrites: 5 });
    const before = c.chunks.length;
    const m = await c.request({ to: 'tok', message_id: 'tiny', data: { x: 'y' } });
    assert.is(m.kind, 'ack');
    const chunks = c.chunks.slice(before);
    assert.ok(chunks.length >= 10, `${chunks.length} records`);
    assert.ok(chunks.every((n) => n <= 5), chunks.join(','));
    emu.setFaults({});
    await c.close();
  }));

test('setFaults and the faults option refuse bad values with EMU_ERR_CONFIG', () => {
  const isConfig = (e: unknown): boolean => e instanceof EmulatorError && e.code === 'EMU_ERR_CONFIG';
  assert.throws(() => new CcsEmulator({ faults: { cutProbability: 2 } }), isConfig);
  assert.throws(() => new CcsEmulator({ faults: { ackDelayMs: -1 } }), isConfig);
  assert.throws(() => new CcsEmulator({ faults: { tinyWrites: 0 } }), isConfig);
  assert.throws(() => new CcsEmulator({ faults: { nope: 1 } as never }), isConfig);
  assert.throws(() => new CcsEmulator({ port: 70000 }), isConfig);
  assert.throws(() => new CcsEmulator({ senders: [] }), isConfig);
  assert.throws(() => new CcsEmulator({ senders: [{ senderId: 'a@b', apiKey: 'k' }] }), isConfig);
  assert.throws(() => new CcsEmulator({ senders: [{ senderId: 'a', apiKey: '' }] }), isConfig);
  assert.throws(() => new CcsEmulator({ cert: 'x' }), isConfig);
  assert.throws(() => new CcsEmulator({ maxPendingUpstream: 0 }), isConfig);
  const emu = new CcsEmulator();
  assert.throws(() => emu.setFaults({ internalErrorRate: -0.1 }), isConfig);
  assert.throws(() => emu.addDevice(''), isConfig);
});

test('start() on a used port fails with EMU_ERR_LISTEN; start() twice with EMU_ERR_STATE', async () => {
  const a = new CcsEmulator({ port: 0 });
  await a.start();
  try {
    await a.start().then(() => assert.unreachable(), (e: unknown) => assert.is((e as EmulatorError).code, 'EMU_ERR_STATE'));
    const b = new CcsEmulator({ port: a.port });
    await b.start().then(() => assert.unreachable(), (e: unknown) => assert.is((e as EmulatorError).code, 'EMU_ERR_LISTEN'));
    await b.stop();
  } finally {
    await a.stop();
  }
});

test('at-least-once under cuts: a client that re-sends un-ACKed messages on reconnect gets every message delivered', () =>
  withEmulator(async (emu) => {
    const total = 150;
    const acked = new Set<string>();
    let rounds = 0;
    while (acked.size < total && rounds++ < 100) {
      const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
      // A window of 10 un-ACKed messages, as a CCS client keeps (flow control).
      const todo = Array.from({ length: total }, (_, i) => `m-${i}`).filter((id) => !acked.has(id));
      let seen = 0;
      const harvest = (): void => {
        for (; seen < c.received.length; seen++) {
          const el = c.received[seen]!;
          const text = el.local === 'message' ? el.getChild('gcm')?.text() : undefined;
          if (text?.includes('"ack"')) acked.add((JSON.parse(text) as { message_id: string }).message_id);
        }
      };
      let sent = 0;
      while (!c.isClosed && sent < todo.length) {
        const batch = todo.slice(sent, sent + 10);
        for (const id of batch) c.sendJson({ to: `dev-${id.length}`, message_id: id });
        sent += batch.length;
        await until(() => c.isClosed || batch.every((id) => c.received.some((el) => el.getChild('gcm')?.text().includes(`"${id}"`))), 3000);
        harvest();
      }
      harvest();
      await c.close();
    }
    assert.is(acked.size, total);
    const l = emu.ledger();
    assert.is(l.downstreamUnique, total, 'nothing lost');
    assert.ok(l.downstreamDuplicates > 0, 'cuts made duplicates');
    assert.is(l.downstreamDelivered, total + l.downstreamDuplicates);
  }, { faults: { cutProbability: 0.05 } }));

test.run();
