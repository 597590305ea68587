// A store that answers with a promise and never settles it: the upstream message waits at most
// storeTimeoutMs, then a StoreError (claim / flush) goes to the error event and the message stays
// un-ACKed, so CCS delivers it again. Without the bound it was held un-ACKed for good.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, MemoryOutboxStore, StoreError, type DedupClaim, type UpstreamMessage } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** A dedup store whose claim() answers with what `claim` returns; records releases. */
function dedupWith(claim: () => Promise<DedupClaim>) {
  const released: string[] = [];
  return {
    released,
    store: { claim, complete: () => {}, release: (_from: string, id: string) => void released.push(id), close: () => {} },
  };
}

test('a claim() that never settles: after storeTimeoutMs a StoreError (claim, unavailable) on the error event, the message neither handled nor ACKed', async () => {
  const server = await startScriptedServer();
  const ran: string[] = [];
  const errors: Error[] = [];
  const { store } = dedupWith(() => never());
  const client = new CcsClient(clientOptions(server, { dedupStore: store, storeTimeoutMs: 100, onUpstream: (m: UpstreamMessage) => void ran.push(m.messageId) }));
  client.on('error', (e: Error) => errors.push(e));
  try {
    await client.connect();
    const c = server.latest();
    const started = Date.now();
    c.upstream('dev-1', 'u1');
    await server.until(() => errors.length === 1, 3000);
    assert.ok(Date.now() - started >= 90, 'not before the timeout');
    assert.instance(errors[0], StoreError);
    const e = errors[0] as StoreError;
    assert.is(e.code, 'CCS_ERR_STORE');
    assert.is(e.operation, 'claim');
    assert.ok(e.unavailable);
    assert.match(e.message, /did not answer the claim of upstream message "u1" within 100 ms \(storeTimeoutMs\): the store is unreachable or stalled, or a shared store.s other instance is still handling the same message; it was neither handled nor ACKed here/);
    assert.is(c.acks.length, 0);
    assert.equal(ran, []);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a dedup store whose abandon() throws: one report of the timed-out claim (the throw as its cause), not two; the message neither handled nor ACKed', async () => {
  const server = await startScriptedServer();
  const ran: string[] = [];
  const errors: Error[] = [];
  const thrown = new Error('abandon broke');
  const { store } = dedupWith(() => never());
  const client = new CcsClient(clientOptions(server, {
    dedupStore: { ...store, abandon: () => { throw thrown; } }, storeTimeoutMs: 50, onUpstream: (m: UpstreamMessage) => void ran.push(m.messageId),
  }));
  client.on('error', (e: Error) => errors.push(e));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev-1', 'u1');
    await server.until(() => errors.length >= 1, 3000);
    // A second report would follow in the same tick as the first; give it time anyway.
    await new Promise((r) => setTimeout(r, 100));
    assert.is(errors.length, 1, `reported once, got: ${errors.map((e) => e.message).join(' | ')}`);
    const e = errors[0] as StoreError;
    assert.instance(e, StoreError);
    assert.is(e.operation, 'claim');
    assert.ok(e.unavailable);
    assert.match(e.message, /^the dedup store did not answer the claim of upstream message "u1" within 50 ms \(storeTimeoutMs\)/);
    assert.match(e.message, /its abandon\(\) threw \(the cause\)/);
    assert.is(e.cause, thrown);
    assert.is(c.acks.length, 0);
    assert.equal(ran, []);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a claim answered "new" after storeTimeoutMs is released, not run and not ACKed; CCS\'s resend is handled then', async () => {
  const server = await startScriptedServer();
  const ran: string[] = [];
  const errors: Error[] = [];
  let late!: (c: DedupClaim) => void;
  const answers: Array<() => Promise<DedupClaim>> = [
    () => new Promise<DedupClaim>((r) => { late = r; }),
    () => Promise.resolve('new'),
  ];
  const { store, released } = dedupWith(() => (answers.shift() as () => Promise<DedupClaim>)());
  const client = new CcsClient(clientOptions(server, { dedupStore: store, storeTimeoutMs: 50, onUpstream: (m: UpstreamMessage) => void ran.push(m.messageId) }));
  client.on('error', (e: Error) => errors.push(e));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev-1', 'u1');
    await server.until(() => errors.length === 1, 3000);
    late('new');
    await server.until(() => released.length === 1);
    assert.equal(released, ['u1']);
    assert.equal(ran, []);
    assert.is(c.acks.length, 0);
    c.upstream('dev-1', 'u1');
    await server.until(() => c.acks.length === 1);
    assert.equal(ran, ['u1']);
    assert.is(errors.length, 1, 'reported once');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('an outbox store whose flush() never settles: after storeTimeoutMs a StoreError (flush) on the error event and no ACK; a flush that settles later ACKs nothing', async () => {
  const server = await startScriptedServer();
  const errors: Error[] = [];
  let settle!: () => void;
  const store = new MemoryOutboxStore();
  store.flush = () => new Promise<void>((r) => { settle = r; }) as unknown as undefined;
  const client = new CcsClient(clientOptions(server, { store, storeTimeoutMs: 100, onUpstream: () => {} }));
  client.on('error', (e: Error) => errors.push(e));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev-1', 'u1');
    await server.until(() => errors.length === 1, 3000);
    const e = errors[0] as StoreError;
    assert.instance(e, StoreError);
    assert.is(e.operation, 'flush');
    assert.match(e.message, /upstream message "u1"'s ACK within 100 ms \(storeTimeoutMs\); it was not ACKed/);
    settle();
    await new Promise((r) => setTimeout(r, 50));
    assert.is(c.acks.length, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a store that answers in time is unaffected, and storeTimeoutMs is checked: 0 is no limit, a negative or non-number value is refused', async () => {
  const server = await startScriptedServer();
  const errors: Error[] = [];
  const store = new MemoryOutboxStore();
  store.flush = () => new Promise<void>((r) => setTimeout(r, 20)) as unknown as undefined;
  const { store: dedup } = dedupWith(() => new Promise<DedupClaim>((r) => setTimeout(() => r('new'), 20)));
  const client = new CcsClient(clientOptions(server, { store, dedupStore: dedup, storeTimeoutMs: 1000, onUpstream: () => {} }));
  client.on('error', (e: Error) => errors.push(e));
  try {
    await client.connect();
    const c = server.latest();
    for (let i = 0; i < 20; i++) c.upstream('dev-1', `u${i}`);
    await server.until(() => c.acks.length === 20);
    assert.equal(errors, []);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
  assert.throws(() => new CcsClient(clientOptions(server, { storeTimeoutMs: -1 })), (e: unknown) => e instanceof RangeError && /storeTimeoutMs/.test((e as Error).message));
  assert.throws(() => new CcsClient(clientOptions(server, { storeTimeoutMs: '5' })), (e: unknown) => e instanceof TypeError && /storeTimeoutMs/.test((e as Error).message));
  new CcsClient(clientOptions(server, { storeTimeoutMs: 0 })).destroy();
});

test.run();
