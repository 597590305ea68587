// IdSet (the ledger's compact set of delivered message ids) answers exactly like a Set<string>,
// whatever mix of ids arrives in whatever order: counters in several bases and prefixes, ids that
// only look like counters (zero-padded, too long, upper case), arbitrary strings.
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IdSet } from '../src/id-set.js';

// Seeded so a failure reproduces; FUZZ=1 draws fresh seeds and runs fifty times as many cases.
const params = (numRuns: number): fc.Parameters<unknown> =>
  process.env.FC_SEED !== undefined
    ? { seed: Number(process.env.FC_SEED), ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}), numRuns, endOnFailure: true }
    : process.env.FUZZ
      ? { numRuns: numRuns * 50 }
      : { numRuns, seed: 0x1d5e7 };

const prefix = fc.constantFrom('', 'm-', 'lo1x9-', 'A', 'x_', 'Z9-', 'k', 'é-', '-');
// Numbers around the edges of the encoding: small, near powers of 36, the 10-digit limit and past it.
const number = fc.oneof(
  fc.nat(50),
  fc.constantFrom(35, 36, 1295, 1296, 36 ** 10 - 1, 36 ** 10, 36 ** 11, 2 ** 53 - 1),
  fc.nat(36 ** 10 + 1000),
  // Decimal counters up to and past the 15-digit limit of the decimal space.
  fc.constantFrom(9, 10, 99, 100, 10 ** 15 - 1, 10 ** 15, 10 ** 16),
  fc.nat(10 ** 15 + 1000),
);
const counterId = fc.tuple(prefix, number, fc.constantFrom(36, 10, 16)).map(([p, n, radix]) => p + n.toString(radix));
const lookalike = fc.oneof(
  fc.tuple(prefix, fc.nat(99)).map(([p, n]) => `${p}0${n}`), // zero-padded
  fc.tuple(prefix, fc.nat(99)).map(([p, n]) => `${p}${n.toString(36).toUpperCase()}`),
  fc.tuple(prefix, fc.nat(1000)).map(([p, n]) => `${p}${'z'.repeat(10)}${n}`), // too many digits
  fc.uuid(),
);
const id = fc.oneof({ weight: 4, arbitrary: counterId }, { weight: 1, arbitrary: lookalike }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });

test('add/has/size agree with a Set<string> for any sequence of ids', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), id), { maxLength: 300 }), (ops) => {
      const set = new IdSet();
      const model = new Set<string>();
      for (const [isAdd, x] of ops) {
        if (isAdd) {
          const fresh = !model.has(x);
          model.add(x);
          assert.is(set.add(x), fresh, `add(${JSON.stringify(x)})`);
        } else {
          assert.is(set.has(x), model.has(x), `has(${JSON.stringify(x)})`);
        }
        assert.is(set.size, model.size);
      }
      for (const x of model) assert.ok(set.has(x), `lost ${JSON.stringify(x)}`);
    }),
    params(400),
  );
});

test('counters arriving out of order, with repeats, merge into ranges without losing or inventing ids', () => {
  fc.assert(
    fc.property(fc.array(fc.nat(400), { maxLength: 600 }), fc.nat(400), (ns, probe) => {
      const set = new IdSet();
      const model = new Set<number>();
      for (const n of ns) {
        assert.is(set.add(`c-${n.toString(36)}`), !model.has(n));
        model.add(n);
      }
      for (let n = 0; n <= 400; n++) assert.is(set.has(`c-${n.toString(36)}`), model.has(n), `c-${n}`);
      assert.is(set.has(`c-0${probe.toString(36)}`), false);
    }),
    params(200),
  );
});

test('decimal and base-36 counters of one prefix, interleaved in any order, answer like a Set', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(3000), fc.constantFrom(10, 36)), { maxLength: 800 }), (ops) => {
      const set = new IdSet();
      const model = new Set<string>();
      for (const [isAdd, n, radix] of ops) {
        const x = `up-${n.toString(radix)}`;
        if (isAdd) {
          assert.is(set.add(x), !model.has(x), `add(${x})`);
          model.add(x);
        } else assert.is(set.has(x), model.has(x), `has(${x})`);
      }
      for (let n = 0; n <= 3000; n++) {
        for (const radix of [10, 36]) {
          const x = `up-${n.toString(radix)}`;
          assert.is(set.has(x), model.has(x), x);
        }
      }
      assert.is(set.size, model.size);
    }),
    params(200),
  );
});

test('a prefix scattered into too many ranges keeps answering exactly (overflow to the plain set)', () => {
  const set = new IdSet();
  // Every other number: one range each, past the 4096-range limit.
  for (let n = 0; n < 20_000; n += 2) assert.ok(set.add(`p-${n.toString(36)}`));
  for (let n = 1; n < 20_000; n += 2) assert.ok(set.add(`p-${n.toString(36)}`));
  assert.is(set.size, 20_000);
  for (let n = 0; n < 20_000; n++) assert.not.ok(set.add(`p-${n.toString(36)}`), `p-${n}`);
  assert.not.ok(set.has('p-' + (20_000).toString(36)));
});

test.run();
