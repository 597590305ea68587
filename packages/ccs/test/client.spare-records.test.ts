// The client's side of the outbox's spare records: it asks for them only with one connection
// (whose ACKs come back in the order the messages went out) and over the store it made itself.
// With several connections the ACKs interleave and reused records were visited out of order: the
// client's own code cost more than the collector saved (bench/ANALYSIS.md, ninth pass).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, MemoryOutboxStore, type OutboxRecord } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

/**
 * Sends one message at a time, each after the one before was ACKed, over `connections`
 * connections, and returns the records the client's own store was given. The store is the one the
 * client makes (a store passed in turns reuse off), so the records are watched on its prototype.
 */
async function recordsOfSequentialSends(connections: number, n: number): Promise<OutboxRecord[]> {
  const server = await startScriptedServer();
  const appended: OutboxRecord[] = [];
  const append = Object.getOwnPropertyDescriptor(MemoryOutboxStore.prototype, 'append')?.value as MemoryOutboxStore['append'];
  MemoryOutboxStore.prototype.append = function (this: MemoryOutboxStore, record: OutboxRecord): void {
    appended.push(record);
    append.call(this, record);
  };
  const client = new CcsClient(clientOptions(server, { connections }));
  try {
    await client.connect({ all: true });
    for (let i = 0; i < n; i++) assert.is((await client.send({ to: `tok-${i}` })).messageId.length > 0, true);
    assert.is(server.received.length, n);
  } finally {
    MemoryOutboxStore.prototype.append = append;
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
  return appended;
}

test('with one connection a send reuses the record of a send ACKed before it', async () => {
  const records = await recordsOfSequentialSends(1, 4);
  assert.is(records.length, 4);
  assert.is(new Set(records).size, 1, 'one record carried all four sends');
});

test('with two connections no record is reused: each send gets a fresh one', async () => {
  const records = await recordsOfSequentialSends(2, 4);
  assert.is(records.length, 4);
  assert.is(new Set(records).size, 4);
});

test.run();
