// Generated message ids kept as counters: a pending message holds its id's counter, the encoder
// writes the id from the prefix's bytes and the counter, the in-flight table matches the ACK's id
// against the counter, and the string exists only where someone reads it (bench/ANALYSIS.md,
// eleventh pass). These check it end to end over real TLS: the send path makes no id string, the
// ids on the wire are the ones results, errors, stores and trace channels report, and ACKs match
// across a reconnect with caller ids (of every shape) mixed in.
import * as dc from 'node:diagnostics_channel';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, MemoryOutboxStore, NackError, TimeoutError, type OutboxRecord, type SendResult } from '../src/index.js';
import { channelNames } from '../src/diagnostics.js';
import { PrefixIds, processPrefix } from '../src/message-id.js';
import { clientOptions, quiet, startScriptedServer } from './helpers/scripted-server.js';

/** Counts the id strings made (`PrefixIds.idOf`: `next`, `idOf` and `generatedId` all end there) while the spy is on; `off()` removes it. */
function countIdStrings(): { readonly calls: number; off(): void } {
  const proto = PrefixIds.prototype;
  const { idOf } = proto;
  const spy = { calls: 0, off: () => {
    proto.idOf = idOf;
  } };
  proto.idOf = function (this: PrefixIds, n: number) {
    spy.calls++;
    return idOf.call(this, n);
  };
  return spy;
}

const seqOf = (m: Record<string, unknown>): string => String((m['data'] as { seq?: unknown } | undefined)?.seq);

for (const [prefix, connections] of [[undefined, 1], ['gen-a-', 1], ['gen-a-', 3]] as const) {
  test(`send → write → ACK → settle makes no id string (prefix ${prefix ?? 'of the process'}, ${connections} connection(s)); results carry the ids on the wire`, async () => {
    const server = await startScriptedServer();
    const client = new CcsClient(clientOptions(server, { connections, maxPending: 50, ...(prefix === undefined ? {} : { messageIdPrefix: prefix }) }));
    let spy: ReturnType<typeof countIdStrings> | undefined;
    try {
      await client.connect({ all: true });
      spy = countIdStrings();
      const results: SendResult[] = [];
      // Waves, so that ACKed records come back for reuse (one connection) and windows fill.
      for (let wave = 0; wave < 4; wave++) {
        results.push(...await Promise.all(Array.from({ length: 150 }, (_, i) => client.send({ to: 'tok', data: { seq: String(wave * 150 + i) } }))));
      }
      const calls = spy.calls;
      spy.off();
      assert.is(calls, 0, 'no id string was made on the send path');
      const wire = new Map(server.received.map((r) => [seqOf(r.msg), r.msg['message_id'] as string]));
      assert.is(wire.size, 600);
      results.forEach((r, i) => assert.is(r.messageId, wire.get(String(i))));
      assert.is(new Set(results.map((r) => r.messageId)).size, 600);
      const expectedPrefix = prefix ?? processPrefix();
      assert.ok(results.every((r) => r.messageId.startsWith(expectedPrefix)));
    } finally {
      spy?.off();
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
}

test('ACKs match generated ids across a reconnect and resend, with caller ids mixed in (one of the generator\'s own shape)', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 6, messageIdPrefix: 'gen-b-' }));
  try {
    await client.connect();
    // Generated, caller ids of other shapes, and one that a generated id could have (it makes
    // the ids generated while it is pending strings: they are checked against it).
    const callerIds: Array<string | undefined> = [undefined, 'own-1', undefined, 'gen-b-zz', undefined, 'other-5', undefined, 'gen-b-07', undefined, undefined];
    const ps = callerIds.map((id, i) => quiet(client.send({ to: 't', data: { seq: String(i) }, ...(id === undefined ? {} : { message_id: id }) })));
    await server.until(() => server.received.length === 6);
    const first = server.latest();
    const idOf = (seq: number): string => server.conns.flatMap((c) => c.received).find((m) => seqOf(m) === String(seq))?.['message_id'] as string;
    // One generated and one caller id ACKed on the first connection, the rest owed when it is cut.
    first.ack(idOf(0));
    first.ack(idOf(3));
    await server.until(() => first.received.length === 8);
    first.cut();
    await server.until(() => server.conns.length === 2 && server.conns[1]!.received.length === 6);
    const second = server.conns[1]!;
    for (const m of [...second.received]) second.ack(m['message_id'] as string);
    await server.until(() => second.received.length === 8);
    for (const m of second.received.slice(6)) second.ack(m['message_id'] as string);
    const rs = await Promise.all(ps);
    rs.forEach((r, i) => {
      assert.is(r.messageId, idOf(i), `message ${i}`);
      if (callerIds[i] !== undefined) assert.is(r.messageId, callerIds[i]);
      else assert.ok(r.messageId.startsWith('gen-b-'));
    });
    // What went out again went out with the same ids.
    for (const m of second.received) assert.is(m['message_id'], idOf(Number(seqOf(m))));
    assert.is(new Set(rs.map((r) => r.messageId)).size, 10);
    assert.is(client.stats().resent, 6);
    assert.is(client.stats().acked, 10);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

/** A memory store that reads each record's id when it is removed, as a durable store would to delete it. */
class IdReadingStore extends MemoryOutboxStore {
  readonly removed = new Map<string, string>();
  override remove(record: OutboxRecord, outcome?: SendResult | Error): void {
    this.removed.set(seqOf(record.msg as Record<string, unknown>), record.id);
    super.remove(record, outcome);
  }
}

test('the id a store, a NACK error, a timeout error and the trace channels read of a generated id is the id on the wire', async () => {
  const server = await startScriptedServer({
    onDownstream: (c, m) => {
      const id = m['message_id'] as string;
      const seq = seqOf(m);
      if (seq === '1') c.nack(id, 'BAD_REGISTRATION');
      else if (seq !== '2') c.ack(id);
      // seq 2 is never answered: it times out.
    },
    autoAck: false,
  });
  const store = new IdReadingStore();
  const written: string[] = [];
  const onWritten = (m: unknown): void => {
    written.push((m as { messageId: string }).messageId);
  };
  dc.subscribe(channelNames.written, onWritten);
  const client = new CcsClient(clientOptions(server, { store, messageIdPrefix: 'gen-c-' }));
  try {
    await client.connect();
    const outcomes = await Promise.all([0, 1, 2, 3].map((seq) => client.send({ to: 't', data: { seq: String(seq) } }, seq === 2 ? { timeoutMs: 150 } : undefined).then((r) => r, (e: unknown) => e)));
    const wire = new Map(server.received.map((r) => [seqOf(r.msg), r.msg['message_id'] as string]));
    assert.is((outcomes[0] as SendResult).messageId, wire.get('0'));
    assert.instance(outcomes[1], NackError);
    assert.is((outcomes[1] as NackError).messageId, wire.get('1'));
    assert.instance(outcomes[2], TimeoutError);
    assert.is((outcomes[2] as TimeoutError).messageId, wire.get('2'));
    assert.is((outcomes[3] as SendResult).messageId, wire.get('3'));
    for (const seq of ['0', '1', '2', '3']) assert.is(store.removed.get(seq), wire.get(seq), `the store read message ${seq}'s id`);
    assert.equal(written, ['0', '1', '2', '3'].map((seq) => wire.get(seq)));
  } finally {
    dc.unsubscribe(channelNames.written, onWritten);
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test.run();
