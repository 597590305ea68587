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

test.run();
