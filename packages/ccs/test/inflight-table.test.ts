import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InflightTable } from '../src/inflight-table.js';
import { MessageIdGenerator } from '../src/message-id.js';
import { Outbound } from '../src/outbound.js';

const RUNS = process.env['FUZZ'] ? 2000 : 200;

const outbound = (id: string, seq: number): Outbound => new Outbound({ to: 't' }, id, seq);

test('InflightTable finds, takes and lists what a Map would, across growth (random add / take / get)', () => {
  type Op = { k: 'add' | 'take' | 'get'; id: number };
  const op = fc.record({ k: fc.constantFrom<Op['k']>('add', 'add', 'take', 'get'), id: fc.nat(400) });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 600 }), fc.constantFrom('m-', 'a-very-long-shared-prefix-of-caller-ids-', ''), (ops, prefix) => {
      const table = new InflightTable();
      const model = new Map<string, Outbound>();
      let seq = 0;
      for (const o of ops) {
        const id = `${prefix}${o.id.toString(36)}`;
        if (o.k === 'add') {
          if (model.has(id)) continue; // ids are unique in flight
          const out = outbound(id, seq++);
          table.add(out);
          model.set(id, out);
        } else if (o.k === 'take') {
          const expected = model.get(id);
          model.delete(id);
          assert.is(table.take(id), expected);
          if (expected !== undefined) assert.is(expected.next, undefined, 'a taken message leaves no chain behind');
        } else {
          assert.is(table.get(id), model.get(id));
        }
        assert.is(table.size, model.size);
      }
      const bySeq = [...model.values()].sort((a, b) => a.seq - b.seq);
      assert.equal(table.values(), bySeq);
      assert.equal(table.takeAll(), bySeq);
      assert.is(table.size, 0);
      assert.is(table.get(`${prefix}0`), undefined);
    }),
    { numRuns: RUNS, seed: 1401 },
  );
});

test('InflightTable keeps 20 000 messages whose ids differ only at the start or only at the end findable', () => {
  for (const make of [(i: number) => `${i}-the-same-long-tail-for-every-caller-id`, (i: number) => `the-same-long-head-for-every-caller-id-${i}`]) {
    const table = new InflightTable();
    const all = Array.from({ length: 20_000 }, (_, i) => outbound(make(i), i));
    for (const o of all) table.add(o);
    for (let i = 0; i < all.length; i += 7) assert.is(table.take(make(i)), all[i]);
    for (let i = 0; i < all.length; i++) assert.is(table.get(make(i)), i % 7 === 0 ? undefined : all[i]);
    assert.is(table.size, all.length - Math.ceil(all.length / 7));
  }
});

test('InflightTable hashes every character once ids that share their tail make a long chain, and never for generated ids', () => {
  // A caller's ids that differ only before their last characters all land in one chain of the
  // quick (tail) hash: the first lookup that walks it switches the table to the full hash.
  const sharedTail = new InflightTable();
  const tailIds = Array.from({ length: 2000 }, (_, i) => `${String(i).padStart(4, '0')}-the-same-tail`);
  tailIds.forEach((id, i) => sharedTail.add(outbound(id, i)));
  assert.is(sharedTail.hashesEveryCharacter, false);
  assert.is(sharedTail.get(tailIds[0] as string)?.id, tailIds[0]);
  assert.is(sharedTail.hashesEveryCharacter, true);
  for (let i = 0; i < tailIds.length; i += 3) assert.is(sharedTail.take(tailIds[i] as string)?.seq, i);
  assert.is(sharedTail.size, 2000 - 667);
  sharedTail.takeAll();
  assert.is(sharedTail.hashesEveryCharacter, false, 'an emptied table starts with the quick hash again');
  // take() switches too, and finds what it looks for after the switch.
  const byTake = new InflightTable();
  tailIds.forEach((id, i) => byTake.add(outbound(id, i)));
  assert.is(byTake.take(tailIds[0] as string)?.seq, 0);
  assert.is(byTake.hashesEveryCharacter, true);
  // Generated ids (a long process prefix and a counter) spread by their tail: 16 000 in flight, taken
  // in order and out of order, never walk a long chain.
  const generated = new InflightTable();
  const id = (i: number): string => `mip4xq1k2c5d9a3f0e7b11-${i.toString(36)}`;
  for (let i = 0; i < 16_000; i++) generated.add(outbound(id(i), i));
  for (let i = 0; i < 16_000; i += 2) assert.is(generated.take(id(i))?.seq, i);
  const live = Array.from({ length: 8_000 }, (_, k) => 2 * k + 1);
  for (let i = 16_000; i < 40_000; i++) {
    generated.add(outbound(id(i), i));
    live.push(i);
    const oldest = live.shift() as number;
    assert.is(generated.take(id(oldest))?.seq, oldest);
  }
  for (let i = 0; i < 40_000; i += 1_001) generated.get(id(i));
  assert.is(generated.hashesEveryCharacter, false);
});

/** Calls of the generator's string-making methods while `fn` runs (the spies are removed after). */
function idStrings(fn: () => void): number {
  const proto = MessageIdGenerator.prototype;
  const { next, idOf } = proto;
  let calls = 0;
  proto.next = function (this: MessageIdGenerator) {
    calls++;
    return next.call(this);
  };
  proto.idOf = function (this: MessageIdGenerator, n: number) {
    calls++;
    return idOf.call(this, n);
  };
  try {
    fn();
  } finally {
    proto.next = next;
    proto.idOf = idOf;
  }
  return calls;
}

test('InflightTable finds generated ids kept as counters by the id string, mixed with caller ids of every shape (random add / take / get)', () => {
  const gen = new MessageIdGenerator('lz-');
  const other = new MessageIdGenerator('other-');
  // What a caller (or an adopted record) may carry: the generator's shape exactly, or nearly.
  const callerShape = fc.oneof(
    fc.nat(60).map((n) => `lz-${n.toString(36)}`),
    fc.nat(60).map((n) => `lz-0${n.toString(36)}`),
    fc.nat(60).map((n) => `lz-${n.toString(36).toUpperCase()}`),
    fc.nat(60).map((n) => `LZ-${n.toString(36)}`),
    fc.nat(60).map((n) => `x-${n.toString(36)}`),
    fc.constantFrom('lz-', 'lz', '', 'lz-zzzzzzzzzzzz', 'lz-1fzzzzzzzzzz', 'lz-2gosa7pa2gv', 'lz-2gosa7pa2gw'),
  );
  type Op = { k: 'gen' | 'other' | 'caller' | 'take' | 'get'; n: number; s: string };
  const op = fc.record({ k: fc.constantFrom<Op['k']>('gen', 'gen', 'other', 'caller', 'take', 'take', 'get'), n: fc.nat(60), s: callerShape });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 500 }), fc.boolean(), (ops, callerFirst) => {
      const table = new InflightTable();
      const model = new Map<string, Outbound>();
      let seq = 0;
      // A table that holds caller ids of the generator's shape before its first counter record rehashes them.
      if (callerFirst) for (const id of ['lz-5', 'lz-a', 'lz-05']) {
        const out = new Outbound({ to: 't' }, id, seq++);
        table.add(out);
        model.set(id, out);
      }
      for (const o of ops) {
        if (o.k === 'gen' || o.k === 'other' || o.k === 'caller') {
          const g = o.k === 'other' ? other : gen;
          const id = o.k === 'caller' ? o.s : g.idOf(o.n);
          if (model.has(id)) continue; // ids are unique in flight
          const out = o.k === 'caller' ? new Outbound({ to: 't' }, id, seq++) : new Outbound({ to: 't' }, o.n, seq++, g.slot);
          table.add(out);
          model.set(id, out);
          continue;
        }
        // Look up by a generated id's text or by a caller shape.
        const id = o.n % 2 === 0 ? gen.idOf(o.n) : o.s;
        // A fresh string each time, as an ACK's id is (sliced from the bytes).
        const asAck = Buffer.from(id, 'latin1').toString('latin1');
        const expected = model.get(id);
        if (o.k === 'take') {
          model.delete(id);
          const got = table.take(asAck);
          assert.is(got, expected);
          if (got !== undefined) {
            assert.is(got.id, id);
            assert.is(got.next, undefined);
          }
        } else assert.is(table.get(asAck), expected);
        assert.is(table.size, model.size);
      }
      const bySeq = [...model.values()].sort((a, b) => a.seq - b.seq);
      assert.equal(table.takeAll(), bySeq);
      for (const [id, out] of model) assert.is(out.id, id);
    }),
    { numRuns: RUNS, seed: 1412 },
  );
});

test('InflightTable adds and takes counter records without making an id string; a taken one keeps the ACK\'s id', () => {
  const gen = new MessageIdGenerator('lz-');
  const table = new InflightTable();
  const all = Array.from({ length: 5000 }, (_, i) => new Outbound({ to: 't' }, gen.nextCounter(), i, gen.slot));
  const acks = all.map((o) => gen.idOf(o.key as number));
  const calls = idStrings(() => {
    for (const o of all) table.add(o);
    for (let i = 0; i < all.length; i++) {
      const out = table.take(acks[i] as string);
      assert.is(out, all[i]);
      assert.is(out?.key, acks[i], 'the ACK\'s own string is kept');
      assert.is(out?.id, acks[i]);
    }
  });
  assert.is(calls, 0);
  assert.is(table.hashesEveryCharacter, false);
});

test('InflightTable tells a counter record from a caller id that spells its counter another way (a leading zero, capitals, past 2^53)', () => {
  const gen = new MessageIdGenerator('lz-');
  const pairs: Array<[number, string]> = [[5, 'lz-05'], [10, 'lz-A'], [35, 'lz-0z'], [0, 'lz-00'], [Number.MAX_SAFE_INTEGER, 'lz-2gosa7pa2gw'], [1, 'LZ-1'], [7, 'lz7']];
  for (const callerFirst of [true, false]) {
    const table = new InflightTable();
    const records = pairs.map(([n, callerId], i) => {
      const counter = new Outbound({ to: 't' }, n, 2 * i, gen.slot);
      const caller = new Outbound({ to: 't' }, callerId, 2 * i + 1);
      if (callerFirst) table.add(caller);
      table.add(counter);
      if (!callerFirst) table.add(caller);
      return [counter, caller, n, callerId] as const;
    });
    for (const [counter, caller, n, callerId] of records) {
      assert.is(table.get(callerId), caller, callerId);
      assert.is(table.get(gen.idOf(n)), counter, gen.idOf(n));
    }
    for (const [counter, caller, n, callerId] of records) {
      assert.is(table.take(callerId), caller, callerId);
      assert.is(table.take(gen.idOf(n)), counter, gen.idOf(n));
    }
    assert.is(table.size, 0);
  }
});

test('InflightTable finds no counter record by an id whose prefix differs in any one character, or is cut or lengthened, from the generator\'s', () => {
  // The ACK's id is parsed as the table's prefix and a counter: the prefix is compared character
  // by character, so an id one character off at any place must miss (dropping or shortening the
  // comparison fails here).
  const text = 'Bn3xq9Zk_-';
  const gen = new MessageIdGenerator(text);
  const table = new InflightTable();
  const counters = [0, 1, 35, 36, 1295, 123456789, Number.MAX_SAFE_INTEGER];
  const records = counters.map((n, i) => new Outbound({ to: 't' }, n, i, gen.slot));
  for (const o of records) table.add(o);
  const digitsOf = (n: number): string => n.toString(36);
  for (const n of counters) {
    for (let i = 0; i < text.length; i++) {
      for (const c of [text.charCodeAt(i) ^ 1, text.charCodeAt(i) ^ 0x20, 0x41, 0x7a, 0x2d]) {
        if (c === text.charCodeAt(i)) continue;
        const id = `${text.slice(0, i)}${String.fromCharCode(c)}${text.slice(i + 1)}${digitsOf(n)}`;
        assert.is(table.get(Buffer.from(id, 'latin1').toString('latin1')), undefined, id);
        assert.is(table.take(id), undefined, id);
      }
    }
    // The prefix cut by its first or last character (the digits then start a character early or late), or lengthened.
    for (const id of [`${text.slice(1)}x${digitsOf(n)}`, `x${text.slice(0, -1)}${digitsOf(n)}`, `${text}0${digitsOf(n)}`.slice(0, text.length + 11)]) {
      if (id === gen.idOf(n)) continue;
      assert.is(table.get(id), undefined, id);
    }
  }
  for (const [i, n] of counters.entries()) assert.is(table.take(Buffer.from(gen.idOf(n), 'latin1').toString('latin1')), records[i]);
  assert.is(table.size, 0);
});

test.run();
