// The outbox model (test/helpers/outbox-model.ts) run against the default MemoryOutboxStore and a
// store that records asynchronously: send, ACK, every NACK class, stanza errors, rate limits,
// timeouts, aborts, connection loss, draining, blocked sockets, adoption and close, with fake
// connections and the fake clock. The same suite is exported (`@ccs-xmpp/ccs/conformance`) for
// other OutboxStore implementations.
import { test } from 'uvu';
import { MemoryOutboxStore } from '../src/memory-store.js';
import { DeferredOutboxStore } from './helpers/deferred-store.js';
import { runOutboxConformance } from './helpers/outbox-model.js';

test('outbox model over MemoryOutboxStore: every promise settles once, windows hold, order per target holds, gauges equal a recount', async () => {
  await runOutboxConformance(() => new MemoryOutboxStore(), 250);
});

test('outbox model over a store that records asynchronously (append → wake → dispatch): the same invariants hold', async () => {
  await runOutboxConformance(() => new DeferredOutboxStore(), 100);
});

test('outbox model over a store that refuses some appends (down): refused sends fail once, nothing is held or counted', async () => {
  await runOutboxConformance(() => new DeferredOutboxStore(3), 100);
});

test.run();
