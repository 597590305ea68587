// The client's OutboxStore conformance suite (`@ccs-xmpp/ccs/conformance`: the outbox model with
// fake connections and a fake clock, every invariant checked after each step), run unchanged
// against the Redis outbox store on a real redis-server: every append goes through Redis and back
// (takeable only once recorded, then `wake`), every removal is a real script call.
import * as assert from 'uvu/assert';
import { runOutboxConformance } from '@ccs-xmpp/ccs/conformance';
import { redisStore, type RedisStore } from '../src/index.js';
import { redisSuite, uniqueSender } from './helpers/redis-suite.js';

const t = redisSuite('OutboxStore conformance (Redis)');

t.test('the outbox model over RedisOutboxStore: every promise settles once, windows hold, order per target holds, gauges equal a recount', async (server) => {
  const opened: RedisStore[] = [];
  await runOutboxConformance(async () => {
    // A long lease: the model's clock is fake, and nothing here should be adopted behind its back.
    const store = redisStore({ redis: server.url, senderId: uniqueSender(), leaseTtlMs: 60_000 });
    opened.push(store);
    await store.ready();
    return store.outbox;
  }, 60);
  assert.ok(opened.length >= 60);
  for (const s of opened) s.destroy();
});

t.run();
