// The settlement's short way (Outbox #settle): a plain message — an id the client generated, no
// timeout, signal or retry delay — settles without looking in the live-id map, the heaps, the
// signals and the throttle, while no target is throttled (bench/ANALYSIS.md, eighth pass). These
// are the two cases next to it that must still take the long way: a caller's id, and a throttled
// target's probe.
import { nackRetryClass, type NackCode, type NackError as StanzaNack } from '@ccs-xmpp/stanza';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KeepAlive } from '../src/clock.js';
import { MemoryOutboxStore } from '../src/memory-store.js';
import { MessageIdGenerator } from '../src/message-id.js';
import type { Outbound, SendResult } from '../src/outbound.js';
import { Outbox, type OutboxConnection } from '../src/outbox.js';
import { Counters } from '../src/stats.js';
import { FakeClock } from './helpers/fake-clock.js';

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));
const nackOf = (code: NackCode): StanzaNack => ({ code, reason: undefined, description: code, retry: nackRetryClass(code), known: true, raw: code });
const outcome = (p: Promise<SendResult> | undefined): Promise<string> => (p as Promise<SendResult>).then((r) => `ok:${r.messageId}`, (e: { code?: string }) => `err:${e.code}`);

/** An outbox over one fake connection that takes every write; `written` lists them in order. */
function setup() {
  const written: Outbound[] = [];
  const conn: OutboxConnection = {
    write(out) {
      written.push(out);
      return true;
    },
  };
  const clock = new FakeClock();
  let outbox!: Outbox;
  outbox = new Outbox({
    maxQueued: 100, sendTimeoutMs: 0, maxRetries: 3, retryBaseMs: 100, retryMaxMs: 1000, jitter: () => 0.5,
    store: new MemoryOutboxStore(), clock, keepAlive: new KeepAlive(() => outbox.outstanding > 0), ids: new MessageIdGenerator('g-'), counters: new Counters(),
  }, {
    pick: () => conn,
    pickAgain: () => true,
    inFlight: () => undefined,
    capacity: () => {},
    idle: () => {},
    promises: () => {},
    settled: () => {},
    error: (err) => assert.unreachable(err.message),
  });
  return { outbox, written, clock };
}

test('a caller\'s message_id is free again as soon as its message is ACKed or fails for good', async () => {
  const { outbox, written } = setup();
  const first = outcome(outbox.submit({ to: 'tok', message_id: 'mine' }, undefined));
  assert.is(await outcome(outbox.submit({ to: 'tok', message_id: 'mine' }, undefined)), 'err:CCS_ERR_DUPLICATE_ID', 'refused while the first is in flight');
  outbox.ack(written[0] as Outbound, 'tok', undefined);
  assert.is(await first, 'ok:mine');
  const second = outcome(outbox.submit({ to: 'tok', message_id: 'mine' }, undefined));
  outbox.nack(written[1] as Outbound, nackOf('DEVICE_UNREGISTERED'), false);
  assert.is(await second, 'err:CCS_ERR_NACK');
  const third = outcome(outbox.submit({ to: 'tok', message_id: 'mine' }, undefined));
  outbox.ack(written[2] as Outbound, 'tok', undefined);
  assert.is(await third, 'ok:mine');
  assert.is(outbox.outstanding, 0);
});

test('a throttled target\'s probe with nothing rare about it, failing for good, lets the next held message go', async () => {
  const { outbox, written, clock } = setup();
  const results = [outcome(outbox.submit({ to: 'tok' }, undefined))];
  outbox.nack(written[0] as Outbound, nackOf('DEVICE_MESSAGE_RATE_EXCEEDED'), false);
  // Two plain messages to the limited target wait behind it; the pause ends, it goes again and is ACKed.
  results.push(outcome(outbox.submit({ to: 'tok' }, undefined)), outcome(outbox.submit({ to: 'tok' }, undefined)));
  assert.is(written.length, 1);
  clock.advance(2000);
  assert.equal(written.map((o) => o.id), ['g-0', 'g-0']);
  outbox.ack(written[1] as Outbound, 'tok', undefined);
  await nextTick();
  // The next one is the probe now: a plain message (generated id, nothing rare).
  assert.equal(written.map((o) => o.id), ['g-0', 'g-0', 'g-1']);
  assert.ok((written[2] as Outbound).plain);
  outbox.nack(written[2] as Outbound, nackOf('DEVICE_UNREGISTERED'), false);
  await nextTick();
  assert.equal(written.map((o) => o.id), ['g-0', 'g-0', 'g-1', 'g-2'], 'the last held message went once the probe failed');
  outbox.ack(written[3] as Outbound, 'tok', undefined);
  assert.equal(await Promise.all(results), ['ok:g-0', 'err:CCS_ERR_NACK', 'ok:g-2']);
  assert.is(outbox.throttledTargets, 0);
  assert.is(outbox.outstanding, 0);
});

test.run();
