import { inspect } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { redisStore, redactedRedis, Keys, StoreError } from '../src/index.js';
import { resolveStoreOptions } from '../src/options.js';
import { storeError } from '../src/errors.js';
import { parseRecord, serializeRecord } from '../src/record.js';
import { record } from './helpers/records.js';

test('every key of a sender shares one cluster hash tag', () => {
  const k = new Keys('123456');
  for (const key of [k.out, k.instances, k.outcomes, k.done, k.own('i-1'), k.lease('i-1'), `${k.prefix}up:${Keys.upstream('tok', 'm')}`]) {
    assert.ok(key.startsWith('ccs:{123456}:'), key);
  }
});

test('a non-integer timing option is refused with a TypeError naming the option and the value as given: NaN and Infinity as themselves (not "null"), a bigint without a serialisation error, no object contents', () => {
  const refused = (value: unknown): string => {
    try {
      resolveStoreOptions({ redis: 'redis://x', senderId: '1', stallTimeoutMs: value as number });
    } catch (e) {
      assert.instance(e, TypeError);
      return (e as Error).message;
    }
    throw new Error(`${String(value)} was accepted`);
  };
  assert.is(refused(Number.NaN), 'stallTimeoutMs must be an integer, got NaN');
  assert.is(refused(Number.POSITIVE_INFINITY), 'stallTimeoutMs must be an integer, got Infinity');
  assert.is(refused(3000n), 'stallTimeoutMs must be an integer, got 3000n');
  assert.is(refused('3000'), 'stallTimeoutMs must be an integer, got "3000"');
  assert.is(refused({ password: 's3cret' }), 'stallTimeoutMs must be an integer, got an object');
  assert.is(refused(null), 'stallTimeoutMs must be an integer, got null');
  assert.throws(() => resolveStoreOptions({ redis: 'redis://x', senderId: '1', closeTimeoutMs: Number.NEGATIVE_INFINITY }), /^closeTimeoutMs must be an integer, got -Infinity$/);
  assert.throws(() => resolveStoreOptions({ redis: 'redis://x', senderId: '1', outcomes: 1n as never }), /outcomes must be 'adopted', 'all' or 'none', got 1n/);
});

test('refuses option values that would break the layout or the timing, naming the option', () => {
  assert.throws(() => new Keys('12{3'), /senderId/);
  assert.throws(() => new Keys(''), /senderId/);
  assert.throws(() => new Keys('1', 'a b'), /keyNamespace/);
  assert.throws(() => resolveStoreOptions({ redis: 'redis://x', senderId: '1', leaseTtlMs: 5 }), (e: unknown) => e instanceof RangeError && /leaseTtlMs/.test((e as Error).message));
  assert.throws(() => resolveStoreOptions({ redis: 'redis://x', senderId: '1', claimPollMs: 1.5 }), (e: unknown) => e instanceof TypeError && /claimPollMs/.test((e as Error).message));
  assert.throws(() => resolveStoreOptions({ redis: 'http://x', senderId: '1' }), /redis:\/\//);
  assert.throws(() => resolveStoreOptions({ redis: 'redis://x', senderId: '1', outcomes: 'some' as 'all' }), /outcomes/);
  assert.throws(() => resolveStoreOptions({ redis: 'redis://x', senderId: '1', instanceId: 'a:b' }), /instanceId/);
  assert.throws(() => resolveStoreOptions({ redis: 'redis://x', senderId: '1', leaseTTL: 5 } as never), /unknown redisStore option "leaseTTL"/);
  assert.throws(() => redisStore({ redis: 'redis://127.0.0.1:1', senderId: '{' }), /senderId/);
  const o = resolveStoreOptions({ redis: 'redis://x', senderId: '1' });
  assert.is(o.leaseTtlMs, 5000);
  assert.is(o.outcomes, 'adopted');
  assert.match(o.instanceId, /^[A-Za-z0-9_.-]+-\d+-[0-9a-f]{8}$/);
});

test('a stallTimeoutMs that lets the lease lapse before the stall is noticed is refused at construction, naming both values; the default follows a short lease', () => {
  const refused = (leaseTtlMs: number, stallTimeoutMs: number): string => {
    try {
      redisStore({ redis: 'redis://127.0.0.1:1', senderId: '1', leaseTtlMs, stallTimeoutMs });
    } catch (e) {
      assert.instance(e, RangeError);
      return (e as Error).message;
    }
    throw new Error(`stallTimeoutMs ${stallTimeoutMs} with leaseTtlMs ${leaseTtlMs} was accepted`);
  };
  // At or above the lease: the lease lapses (others adopt and send) before down.
  assert.match(refused(5000, 5000), /^stallTimeoutMs \(5000\) must be below leaseTtlMs \(5000\) less one renewal period \(1000 ms\), so below 4000: .*sent them twice$/);
  assert.match(refused(5000, 9000), /^stallTimeoutMs \(9000\) must be below leaseTtlMs \(5000\)/);
  // Below the lease but not below its last renewal period: the unanswered renewal goes out a fifth
  // of the lease after the last answered one, so its watch fires after the lease lapsed.
  assert.match(refused(5000, 4000), /^stallTimeoutMs \(4000\) must be below leaseTtlMs \(5000\)/);
  assert.match(refused(1000, 3000), /^stallTimeoutMs \(3000\) must be below leaseTtlMs \(1000\) less one renewal period \(200 ms\), so below 800/);
  assert.is(resolveStoreOptions({ redis: 'redis://x', senderId: '1', leaseTtlMs: 5000, stallTimeoutMs: 3999 }).stallTimeoutMs, 3999);
  // Defaults: 3000 for the default lease; three renewal periods of a shorter one (not a refusal).
  assert.is(resolveStoreOptions({ redis: 'redis://x', senderId: '1' }).stallTimeoutMs, 3000);
  assert.is(resolveStoreOptions({ redis: 'redis://x', senderId: '1', leaseTtlMs: 60_000 }).stallTimeoutMs, 3000);
  assert.is(resolveStoreOptions({ redis: 'redis://x', senderId: '1', leaseTtlMs: 1000 }).stallTimeoutMs, 600);
  assert.is(resolveStoreOptions({ redis: 'redis://x', senderId: '1', leaseTtlMs: 100 }).stallTimeoutMs, 60);
});

test('a store that cannot reach Redis fails ready() with CCS_ERR_STORE and never shows the password', async () => {
  const s = redisStore({ redis: 'redis://user:s3cret-pw@127.0.0.1:1/0', senderId: '1' });
  try {
    await s.ready();
    assert.unreachable();
  } catch (err) {
    assert.instance(err, StoreError);
    assert.is((err as StoreError).code, 'CCS_ERR_STORE');
    assert.is((err as StoreError).operation, 'connect');
    assert.not.match(String((err as Error).message), /s3cret/);
    assert.match((err as Error).message, /ECONNREFUSED/, 'the reason, not "Connection is closed."');
  }
  assert.not.ok(s.available);
  s.destroy();
});

test('a redis URL that cannot be parsed is a TypeError naming the option, never carrying the URL; inspecting a store never shows the password', () => {
  for (const url of ['redis://user:s3cret-pw@127.0.0.1:notaport', 'redis://user:s3cret-pw@[::1:6379']) {
    try {
      redisStore({ redis: url, senderId: '1' });
      assert.unreachable();
    } catch (err) {
      assert.instance(err, TypeError);
      assert.match((err as Error).message, /^redis is not a valid URL/);
      assert.not.match(inspect(err, { depth: 5 }), /s3cret/);
    }
  }
  // ioredis takes a password from the query too (redis://host?password=…), and a sentinel's.
  for (const redis of ['redis://user:s3cret-pw@127.0.0.1:1/0', 'rediss://:s3cret-pw@127.0.0.1:1', { host: '127.0.0.1', port: 1, password: 's3cret-pw' },
    'redis://127.0.0.1:1/0?password=s3cret-pw', 'redis://127.0.0.1:1?db=0&sentinelPassword=s3cret-pw&Password=s3cret-pw']) {
    const s = redisStore({ redis, senderId: '1', reconnectMaxMs: 10 });
    s.ready().catch(() => {});
    const shown = inspect(s, { depth: 5 });
    s.destroy();
    assert.not.match(shown, /s3cret/);
    assert.match(shown, /RedisStore \{ instanceId: .*127\.0\.0\.1/);
  }
});

test('redactedRedis (the package\'s one redaction, which the ccs CLI uses for --store) shows a redis option without its password: userinfo and any pass… query value as ***, an options object as host and port, no URL as (not shown)', () => {
  assert.is(redactedRedis('redis://user:s3cret-pw@127.0.0.1:6380/2'), 'redis://user:***@127.0.0.1:6380/2');
  assert.is(redactedRedis('rediss://:s3cret-pw@h.example'), 'rediss://:***@h.example');
  assert.is(redactedRedis('redis://127.0.0.1:1?db=0&sentinelPassword=s3cret-pw&Password=s3cret-pw'), 'redis://127.0.0.1:1?db=0&sentinelPassword=***&Password=***');
  assert.is(redactedRedis('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  assert.is(redactedRedis({ host: '10.0.0.5', port: 6380, password: 's3cret-pw' }), '{ host: "10.0.0.5", port: 6380 }');
  assert.is(redactedRedis('redis://u:s3cret-pw@[::1:6379'), '(not shown)');
});

test('store errors keep one line of Redis text and say whether the connection is the problem', () => {
  const e = storeError('append', new Error("Stream isn't writeable and enableOfflineQueue options is false\nmore"));
  assert.ok(e.unavailable);
  assert.is(e.message, "store append failed: Stream isn't writeable and enableOfflineQueue options is false");
  assert.is(storeError('append', e), e);
  assert.not.ok(storeError('update', 'WRONGTYPE Operation against a key holding the wrong kind of value').unavailable);
});

test('a store error\'s cause keeps the failed command\'s name only: ioredis hangs its args on the error (AUTH\'s password, a script\'s message bodies)', () => {
  const reply = Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), { command: { name: 'auth', args: ['default', 's3cret-pw'] } });
  const aborted = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
    previousErrors: [Object.assign(new Error('OOM'), { command: { name: 'evalsha', args: ['sha', '1', '{"msg":{"data":{"card":"4111-s3cret"}}}'] } })],
  });
  for (const e of [storeError('connect', reply), storeError('append', aborted)]) {
    const shown = inspect(e, { depth: 8 });
    assert.not.match(shown, /s3cret/);
    assert.match(shown, /name: '(auth|evalsha)'/);
  }
});

test('records round-trip through their stored form; anything else is not a record', () => {
  const r = record('m', 7, 'tok', { a: 'b' });
  r.retries = 3;
  r.state = 'waiting';
  r.notBefore = 99;
  const back = parseRecord(serializeRecord(r));
  assert.equal(back, { ...r, storeSlot: -1 });
  assert.is(parseRecord('{'), undefined);
  assert.is(parseRecord('1'), undefined);
  assert.is(parseRecord('{"id":1}'), undefined);
  assert.is(parseRecord('{"id":"x","seq":1,"msg":{},"target":"t","state":"odd"}')?.state, 'queued');
});

test.run();
