import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InflightTable } from '../src/inflight-table.js';
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

test.run();
