// bench/lib/floor-ccs-client.mjs, the API floor of bench/ccs-client.mjs: its own in-flight table agrees with a Map, and
// the client settles every send once, from its ACK, over real TLS against the stub CCS (bench/lib/stub-ccs.mjs), with
// its queue bounded as CcsClient's is — through trySend's promise (`floor`) and through dispatch's callback
// (`floor-dispatch`). A floor that lost or doubled a settlement would hang or flatter the benchmark.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const BENCH = fileURLToPath(new URL('../../../bench/lib/', import.meta.url));

interface Table {
  size: number;
  set(id: string, value: number): void;
  take(id: string): number | undefined;
}
interface SendResult {
  messageId: string;
  from: string | undefined;
  registrationId: undefined;
  retries: number;
}
interface Floor {
  connect(): Promise<void>;
  trySend(message: object): Promise<SendResult> | undefined;
  dispatch(message: object, callback: (error: unknown, result: SendResult | undefined) => void): boolean;
  waitForCapacity(): Promise<void>;
  close(): void;
  readonly count: number;
}
interface FloorModule {
  IdTable: new () => Table;
  FloorCcsClient: new (o: Record<string, unknown>) => Floor;
}
interface StubModule {
  startStub(token: string): Promise<{ port: number; ca: string; stop(): Promise<unknown> }>;
}
// bench/ is plain JavaScript outside this workspace: loaded by path, typed by the interfaces above.
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(BENCH + file).href)) as T;

test('the floor\'s in-flight table agrees with a Map over random sets and takes, ids colliding in their tails included', async () => {
  const { IdTable } = await load<FloorModule>('floor-ccs-client.mjs');
  let seed = 1;
  const rnd = (): number => ((seed = Math.imul(seed, 48271) % 2147483647) & 0x7fffffff) / 2147483647;
  for (let round = 0; round < 60; round++) {
    const table = new IdTable();
    const model = new Map<string, number>();
    const live: string[] = [];
    // Every third round, ids that differ only before their last 6 characters: one hash, one long probe run.
    const sameTail = round % 3 === 0;
    for (let step = 0; step < 3000; step++) {
      if (rnd() < 0.55 || live.length === 0) {
        const id = sameTail ? `x${Math.floor(rnd() * 1e9)}-abcdef` : `Pfx-${Math.floor(rnd() * 1e9).toString(36)}`;
        if (model.has(id)) continue;
        table.set(id, step);
        model.set(id, step);
        live.push(id);
      } else {
        const k = Math.floor(rnd() * live.length);
        const id = rnd() < 0.1 ? 'absent' : (live[k] as string);
        const want = model.get(id);
        model.delete(id);
        assert.is(table.take(id), want, `round ${round} step ${step} ${id}`);
        if (id !== 'absent') live.splice(k, 1);
      }
      assert.is(table.size, model.size);
    }
    for (const id of live) assert.is(table.take(id), model.get(id));
    assert.is(table.size, 0);
  }
});

test('the floor settles every send once from its ACK over TLS, refuses past maxQueued and waits for capacity at half', async () => {
  const { FloorCcsClient } = await load<FloorModule>('floor-ccs-client.mjs');
  const { startStub } = await load<StubModule>('start-stub.mjs');
  const token = 'floor-test-token';
  const stub = await startStub(token);
  const floor = new FloorCcsClient({ host: '127.0.0.1', port: stub.port, ca: stub.ca, senderId: '1', apiKey: 'k', maxPending: 50, maxQueued: 200, connections: 2 });
  try {
    await floor.connect();
    const N = 5000;
    const ids = new Set<string>();
    let settled = 0;
    let refusals = 0;
    const all: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const message = { to: token, data: { seq: String(i) } };
      let p = floor.trySend(message);
      if (p === undefined) {
        refusals++;
        // Refused only with the queue full; capacity comes back once it is under half.
        assert.is(floor.count, 200);
        await floor.waitForCapacity();
        assert.ok(floor.count <= 100, `waitForCapacity resolved at ${floor.count} queued`);
        p = floor.trySend(message);
      }
      if (p === undefined) throw new Error('refused after waitForCapacity');
      all.push(p.then((result) => {
        settled++;
        // What CcsClient's send resolves with: a SendResult, the ACK's `from` read from the stub's ACK.
        assert.equal(Object.keys(result), ['messageId', 'from', 'registrationId', 'retries']);
        assert.is(result.from, token);
        assert.is(result.registrationId, undefined);
        assert.is(result.retries, 0);
        const id = result.messageId;
        // A 10-character prefix ending in '-' and a base-36 counter, as CcsClient's default ids.
        assert.match(id, /^[A-Za-z0-9_-]{9}-[0-9a-z]+$/);
        assert.not.ok(ids.has(id), `settled twice: ${id}`);
        ids.add(id);
      }));
    }
    await Promise.all(all);
    assert.is(settled, N);
    assert.is(ids.size, N);
    assert.ok(refusals > 0, 'the queue never filled');
  } finally {
    floor.close();
    await stub.stop();
  }
});

test('the dispatch floor calls each callback exactly once, later, with a SendResult, and returns false past maxQueued', async () => {
  const { FloorCcsClient } = await load<FloorModule>('floor-ccs-client.mjs');
  const { startStub } = await load<StubModule>('start-stub.mjs');
  const token = 'floor-dispatch-token';
  const stub = await startStub(token);
  const floor = new FloorCcsClient({ host: '127.0.0.1', port: stub.port, ca: stub.ca, senderId: '1', apiKey: 'k', maxPending: 50, maxQueued: 200, connections: 2, api: 'dispatch' });
  try {
    await floor.connect();
    const N = 5000;
    // The callback may not throw (it runs in the socket's `data`): what is wrong is collected and asserted after.
    const wrong: string[] = [];
    const ids = new Set<string>();
    let settled = 0;
    let inDispatch = false;
    let allSettled: () => void = () => undefined;
    const all = new Promise<void>((r) => (allSettled = r));
    // One callback for every message, as bench/lib/queue-driver.mjs `driveDispatch` passes.
    const callback = (error: unknown, result: SendResult | undefined): void => {
      settled++;
      if (inDispatch) wrong.push('called inside dispatch');
      if (error !== undefined) wrong.push(`error ${String(error)}`);
      if (result === undefined) wrong.push('no result');
      else {
        if (Object.keys(result).join() !== 'messageId,from,registrationId,retries') wrong.push(`result ${Object.keys(result).join()}`);
        if (result.from !== token || result.registrationId !== undefined || result.retries !== 0) wrong.push(`result ${JSON.stringify(result)}`);
        if (!/^[A-Za-z0-9_-]{9}-[0-9a-z]+$/.test(result.messageId)) wrong.push(`id ${result.messageId}`);
        if (ids.has(result.messageId)) wrong.push(`settled twice: ${result.messageId}`);
        ids.add(result.messageId);
      }
      if (settled === N) allSettled();
    };
    const dispatch = (message: object): boolean => {
      inDispatch = true;
      try {
        return floor.dispatch(message, callback);
      } finally {
        inDispatch = false;
      }
    };
    let refusals = 0;
    for (let i = 0; i < N; i++) {
      const message = { to: token, data: { seq: String(i) } };
      if (!dispatch(message)) {
        refusals++;
        // Refused only with the queue full, nothing taken; capacity comes back once it is under half.
        assert.is(floor.count, 200);
        await floor.waitForCapacity();
        assert.ok(floor.count <= 100, `waitForCapacity resolved at ${floor.count} queued`);
        if (!dispatch(message)) throw new Error('refused after waitForCapacity');
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${settled} of ${N} settled after 30 s`)), 30_000)))]);
    clearTimeout(timer);
    // A second call for any message would show by now.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(wrong.slice(0, 5), []);
    assert.is(settled, N);
    assert.is(ids.size, N);
    assert.ok(refusals > 0, 'the queue never filled');
  } finally {
    floor.close();
    await stub.stop();
  }
});

test('a floor takes one API: trySend on a dispatch floor and dispatch on a send floor throw', async () => {
  const { FloorCcsClient } = await load<FloorModule>('floor-ccs-client.mjs');
  const o = { host: '127.0.0.1', port: 1, ca: '', senderId: '1', apiKey: 'k', maxPending: 1, maxQueued: 1, connections: 1 };
  assert.throws(() => new FloorCcsClient({ ...o, api: 'dispatch' }).trySend({}), /dispatch\(message, callback\)/);
  assert.throws(() => new FloorCcsClient(o).dispatch({}, () => undefined), /trySend\(message\)/);
  assert.throws(() => new FloorCcsClient({ ...o, api: 'callback' }), /unknown api/);
});

test.run();
