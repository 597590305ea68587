import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DedupWindow, MessageIdGenerator, RingBuffer, backoffDelay, decide, resolveOptions } from '../src/internal.js';
import type { OutboxRecord } from '../src/store.js';
import { PROCESS_PREFIX_LENGTH, generatedId, generatedPrefix, makeProcessPrefix, processPrefix } from '../src/message-id.js';
import { isPlainAscii } from '@ccs-xmpp/stanza';
import { TimerHeap } from '../src/timer-heap.js';

const execFileP = promisify(execFile);
const RUNS = process.env['FUZZ'] ? 2000 : 200;

test('MessageIdGenerator hands out ids that never repeat and share the process prefix', () => {
  const g = new MessageIdGenerator();
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) seen.add(g.next());
  assert.is(seen.size, 100_000);
  assert.ok([...seen].every((id) => id.startsWith(processPrefix())));
  // Two generators in one process must not collide either when given distinct prefixes.
  const a = new MessageIdGenerator('a-');
  const b = new MessageIdGenerator('b-');
  assert.is.not(a.next(), b.next());
  assert.is(new MessageIdGenerator('p-').next(), 'p-0');
});

test('MessageIdGenerator ids are the prefix and the counter in base 36, for ASCII and non-ASCII prefixes', () => {
  for (const prefix of ['p-', processPrefix(), 'é-', '']) {
    const g = new MessageIdGenerator(prefix);
    for (let i = 0; i < 50_000; i++) {
      const id = g.next();
      if (id !== prefix + i.toString(36)) assert.unreachable(`${JSON.stringify(prefix)}: id ${i} is ${JSON.stringify(id)}`);
    }
  }
});

test('a generated id kept as a counter reads back as the string next() would have made, and its slot carries the prefix', () => {
  for (const prefix of ['p-', processPrefix(), '']) {
    const g = new MessageIdGenerator(prefix);
    const twin = new MessageIdGenerator(prefix);
    assert.ok(g.slot >= 0);
    assert.is(twin.slot, g.slot, 'one slot per prefix');
    assert.is(generatedPrefix(g.slot).text, prefix);
    for (let i = 0; i < 5000; i++) {
      const n = g.nextCounter();
      assert.is(n, i);
      if (generatedId(g.slot, n) !== twin.next()) assert.unreachable(`${JSON.stringify(prefix)}: counter ${n}`);
    }
    for (const n of [36 ** 5 - 1, 36 ** 5, 2 ** 32, Number.MAX_SAFE_INTEGER]) assert.is(generatedId(g.slot, n), prefix + n.toString(36));
  }
  // A prefix JSON or XML would escape has no slot: its ids are made as strings.
  for (const prefix of ['é-', 'a"b-', 'a<b-']) assert.is(new MessageIdGenerator(prefix).slot, -1);
});

test('the process prefix is stable: 10 URL-safe characters that JSON and XML carry unchanged, ending in -', () => {
  const p = processPrefix();
  assert.is(p, processPrefix());
  assert.is(p.length, PROCESS_PREFIX_LENGTH);
  assert.is(PROCESS_PREFIX_LENGTH, 10);
  assert.match(p, /^[A-Za-z0-9_-]{9}-$/);
  assert.ok(isPlainAscii(p));
  assert.is(encodeURIComponent(p), p);
});

/** The start second (mod 2^18) that a prefix's first three characters spell. */
function secondsOf(prefix: string): number {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = 0;
  for (const ch of prefix.slice(0, 3)) s = s * 64 + alphabet.indexOf(ch);
  return s;
}

test('a process prefix is the start second modulo 2^18, then 36 random bits, then -', () => {
  assert.is(makeProcessPrefix(0, new Uint8Array(6)), 'AAAAAAAAA-');
  assert.is(makeProcessPrefix(1999, Uint8Array.of(1, 2, 3, 26, 62, 63)), 'AABBCDa-_-');
  // The low 6 bits of each random byte: 0x41 and 0xc1 give the same character.
  assert.is(makeProcessPrefix(2 ** 18 * 1000 - 1, Uint8Array.of(0x41, 0xc1, 0x40, 0x3f, 0xff, 0x80)), '___BBA__A-');
  assert.is(makeProcessPrefix(2 ** 18 * 1000 + 64_000, Uint8Array.of(0, 0, 0, 0, 0, 0)), 'ABAAAAAAA-');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.uint8Array({ minLength: 6, maxLength: 6 }), (ms, random) => {
      const p = makeProcessPrefix(ms, random);
      assert.is(secondsOf(p), Math.floor(ms / 1000) % 2 ** 18);
      assert.match(p, /^[A-Za-z0-9_-]{9}-$/);
    }),
    { numRuns: RUNS },
  );
});

test('process prefixes of different seconds within 2^18 s never collide; of one second, they differ when the random bits do', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 44 }), fc.integer({ min: 1, max: 2 ** 18 - 1 }), fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.uint8Array({ minLength: 6, maxLength: 6 }),
      (ms, apartS, r1, r2) => {
        assert.is.not(makeProcessPrefix(ms, r1), makeProcessPrefix(ms + apartS * 1000, r2));
        const sameBits = r1.every((b, i) => (b & 63) === ((r2[i] as number) & 63));
        assert.is(makeProcessPrefix(ms, r1) === makeProcessPrefix(ms, r2), sameBits);
      }),
    { numRuns: RUNS },
  );
});

test('two processes started at once get different prefixes', async () => {
  const script = `import { processPrefix } from ${JSON.stringify(new URL('../src/message-id.js', import.meta.url).href)}; process.stdout.write(processPrefix());`;
  const run = () => execFileP(process.execPath, ['--input-type=module', '-e', script]).then((r) => r.stdout);
  const [a, b] = await Promise.all([run(), run()]);
  assert.match(a, /^[A-Za-z0-9_-]{9}-$/);
  assert.match(b, /^[A-Za-z0-9_-]{9}-$/);
  assert.is.not(a, b);
  assert.is.not(a, processPrefix());
});

test('backoffDelay stays within [(1-jitter)·d, d] for d = min(max, base·2^n)', () => {
  fc.assert(
    fc.property(fc.nat(80), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.9999, noNaN: true }),
      (attempt, base, max, jitter, r) => {
        const d = Math.min(max, base * 2 ** Math.min(attempt, 52));
        const v = backoffDelay(attempt, { baseMs: base, maxMs: max, jitter }, r);
        return v >= Math.floor(d * (1 - jitter)) - 1 && v <= Math.ceil(d) && Number.isFinite(v);
      }),
    { seed: 1, numRuns: RUNS },
  );
});

test('backoffDelay doubles without jitter and is capped', () => {
  const o = { baseMs: 100, maxMs: 1000, jitter: 0 };
  assert.equal([0, 1, 2, 3, 4, 99].map((n) => backoffDelay(n, o, Math.random())), [100, 200, 400, 800, 1000, 1000]);
  assert.is(backoffDelay(-3, o, Math.random()), 100);
  assert.is(backoffDelay(0, { baseMs: 100, maxMs: 1000 }, 0), 50, 'default jitter is half');
});

test('with the default options a SERVICE_UNAVAILABLE retry waits what the README says: 0.5–1 s, then 1–2 s, …, at most 60 s', () => {
  const nack = { retry: 'backoff', code: 'SERVICE_UNAVAILABLE' } as Parameters<typeof decide>[0];
  const record = (retries: number): OutboxRecord => ({ id: 'm', seq: 0, msg: { to: 't' }, target: 't', retries, resends: 0, written: false, state: 'queued', notBefore: 0 }) as unknown as OutboxRecord;
  const pause = (draw: number, retries: number): number => {
    const d = decide(nack, record(retries), resolveOptions({ senderId: '1', apiKey: 'k', random: () => draw }), 0);
    return d.kind === 'wait' ? d.at : -1;
  };
  assert.equal([0, 1, 2, 7].map((n) => pause(0, n)), [500, 1000, 2000, 30_000], 'the shortest: half of retryBaseMs · 2^n');
  assert.equal([0, 1, 2, 7].map((n) => pause(1, n)), [1000, 2000, 4000, 60_000], 'the longest: retryBaseMs · 2^n, capped by retryMaxMs');
  assert.is(decide(nack, record(8), resolveOptions({ senderId: '1', apiKey: 'k' }), 0).kind, 'fail', 'maxRetries 8');
});

test('RingBuffer behaves like an array queue under random push / shift', () => {
  type Op = { k: 'push' | 'shift'; v: number };
  const op = fc.record({ k: fc.constantFrom<Op['k']>('push', 'shift'), v: fc.integer() });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const rb = new RingBuffer<number>(2);
      const model: number[] = [];
      for (const o of ops) {
        if (o.k === 'push') {
          rb.push(o.v);
          model.push(o.v);
        } else {
          assert.is(rb.shift(), model.shift());
        }
        assert.is(rb.length, model.length);
        assert.is(rb.peek(), model[0]);
      }
      assert.equal([...rb], model);
      assert.equal(rb.drain(), model);
      assert.is(rb.length, 0);
      assert.is(rb.shift(), undefined);
    }),
    { seed: 2, numRuns: RUNS },
  );
  assert.is(new RingBuffer(100).capacity, 128);
});

test('RingBuffer.clear empties it and lets go of the grown storage (drain keeps it)', () => {
  const rb = new RingBuffer<number>(64);
  for (let i = 0; i < 10_000; i++) rb.push(i);
  assert.is(rb.capacity, 16_384);
  rb.drain();
  assert.is(rb.capacity, 16_384, 'drain keeps the storage for the next fill');
  for (let i = 0; i < 100; i++) rb.push(i);
  rb.shift();
  rb.clear();
  assert.is(rb.length, 0);
  assert.is(rb.capacity, 64);
  assert.is(rb.shift(), undefined);
  for (let i = 0; i < 100; i++) rb.push(i);
  assert.equal([...rb], Array.from({ length: 100 }, (_, i) => i), 'usable again, in order');
});

test('DedupWindow never forgets an entry that is not evictable (a handler still running)', () => {
  const w = new DedupWindow<{ done: boolean }>(2, (v) => v.done);
  const running = { done: false };
  w.add('a', running);
  w.add('b', { done: true });
  w.add('c', { done: true });
  assert.ok(w.has('a'), 'the running one stays');
  assert.not.ok(w.has('b'), 'the oldest finished one goes');
  running.done = true;
  w.add('d', { done: true });
  assert.not.ok(w.has('a'), 'once finished it may go');
  assert.is(w.size, 2);
});

test('DedupWindow remembers the last `capacity` keys and forgets the oldest', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 200 }), (cap, keys) => {
      const w = new DedupWindow<number>(cap);
      const model: string[] = [];
      for (const k of keys) {
        const key = DedupWindow.key(`from${k}`, `m${k}`);
        if (!model.includes(key)) {
          model.push(key);
          if (model.length > cap) model.shift();
        }
        w.add(key, k);
        assert.ok(w.size <= cap);
      }
      assert.is(w.size, model.length);
      for (const key of model) assert.ok(w.has(key));
    }),
    { seed: 3, numRuns: RUNS },
  );
  const w = new DedupWindow<string>(2);
  w.add('a', '1');
  w.add('a', '2');
  assert.is(w.get('a'), '2');
  w.delete('a');
  assert.not.ok(w.has('a'));
  assert.is.not(DedupWindow.key('a', 'bc'), DedupWindow.key('ab', 'c'));
  assert.throws(() => new DedupWindow(0), /positive/);
});

test('TimerHeap pops in time order (stable enough for retries) and only what is due', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }), fc.integer({ min: 0, max: 1000 }), (times, now) => {
      const h = new TimerHeap<number>(() => {});
      times.forEach((t, i) => h.push(t, i));
      assert.is(h.length, times.length);
      const due: number[] = [];
      for (let x = h.popDue(now); x !== undefined; x = h.popDue(now)) due.push(times[x]!);
      const sorted = times.filter((t) => t <= now).sort((a, b) => a - b);
      assert.equal(due, sorted);
      assert.ok(h.peekTime() > now);
      const rest: number[] = [];
      for (let x = h.pop(); x !== undefined; x = h.pop()) rest.push(times[x]!);
      assert.equal(rest, times.filter((t) => t > now).sort((a, b) => a - b));
    }),
    { seed: 4, numRuns: RUNS },
  );
  const h = new TimerHeap<string>(() => {});
  assert.is(h.peekTime(), Infinity);
  h.push(1, 'x');
  h.clear();
  assert.is(h.length, 0);
});

test('TimerHeap removes any entry at once by the slot it reported, and the rest still pop in time order', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 100 }), fc.array(fc.nat(), { maxLength: 50 }), (times, removals) => {
      const items = times.map((t, i) => ({ t, i, slot: -1 }));
      const h = new TimerHeap<{ t: number; i: number; slot: number }>((item, slot) => {
        item.slot = slot;
      });
      for (const item of items) h.push(item.t, item);
      const removed = new Set<number>();
      for (const r of removals) {
        const item = items[r % items.length]!;
        if (item.slot >= 0) {
          h.removeAt(item.slot);
          removed.add(item.i);
          assert.is(item.slot, -1);
        }
        for (const [slot, it] of h.items().entries()) assert.is(it.slot, slot);
      }
      const rest: number[] = [];
      for (let x = h.pop(); x !== undefined; x = h.pop()) rest.push(x.t);
      assert.equal(rest, items.filter((it) => !removed.has(it.i)).map((it) => it.t).sort((a, b) => a - b));
    }),
    { seed: 5, numRuns: RUNS },
  );
});

test.run();
