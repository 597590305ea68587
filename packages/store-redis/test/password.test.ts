// A Redis that requires a password, reached with a URL that carries one: a wrong one fails ready()
// with CCS_ERR_STORE naming Redis's reason (it said only "Connection is closed."), and the password
// is in no error, event or inspect output, whichever it was.
import { inspect } from 'node:util';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { redisStore, StoreError } from '../src/index.js';
import { redisSuite, uniqueSender } from './helpers/redis-suite.js';

const t = redisSuite('the Redis store behind a password');

t.test('a wrong password fails ready() with CCS_ERR_STORE saying WRONGPASS; the right one works; neither password is ever shown', async (server) => {
  const admin = new Redis(server.url);
  await admin.config('SET', 'requirepass', 'right-s3cret-pw');
  admin.disconnect();
  const shown: string[] = [];
  const wrong = redisStore({ redis: `redis://default:wrong-s3cret-pw@127.0.0.1:${server.port}`, senderId: uniqueSender(), reconnectMaxMs: 50 });
  wrong.on('down', (e) => shown.push(inspect(e, { depth: 5 })));
  const err = await wrong.ready().then(() => undefined, (e: unknown) => e);
  shown.push(inspect(err, { depth: 5 }), inspect(wrong, { depth: 5 }));
  wrong.destroy();
  assert.instance(err, StoreError);
  assert.is((err as StoreError).code, 'CCS_ERR_STORE');
  assert.is((err as StoreError).operation, 'connect');
  assert.match((err as Error).message, /^store connect failed: WRONGPASS/);
  const right = redisStore({ redis: `redis://default:right-s3cret-pw@127.0.0.1:${server.port}`, senderId: uniqueSender() });
  try {
    await right.ready();
    assert.is(await right.dedup.claim('dev', 'm-1'), 'new');
    shown.push(inspect(right, { depth: 5 }));
  } finally {
    await right.close();
  }
  for (const text of shown) assert.not.match(text, /s3cret/);
});

t.run();
