// Fault decisions depend only on the seed and the message: the same seed refuses the same
// messages whichever connection they take and in whatever order they arrive; a retry draws again.
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsEmulator } from '../src/index.js';
import { SeededDecisions, hashUnit } from '../src/seeded-decisions.js';
import { TestClient } from './helpers/client.js';

test('SeededDecisions gives the same answers for the same seed and calls per key, in any interleaving', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.array(fc.stringMatching(/^m-[0-9]{1,3}$/), { maxLength: 60 }), fc.infiniteStream(fc.nat()),
      (seed, ids, picks) => {
        const a = new SeededDecisions(seed);
        const inOrder = new Map<string, boolean[]>();
        for (const id of ids) {
          const list = inOrder.get(id) ?? [];
          list.push(a.chance('su', id, 0.3));
          inOrder.set(id, list);
        }
        // The same calls, another interleaving across keys (each key keeps its own order).
        const b = new SeededDecisions(seed);
        const shuffled = [...ids];
        const it = picks[Symbol.iterator]();
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (it.next().value as number) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
        }
        const seen = new Map<string, number>();
        for (const id of shuffled) {
          const n = seen.get(id) ?? 0;
          seen.set(id, n + 1);
          assert.is(b.chance('su', id, 0.3), inOrder.get(id)?.[n]);
        }
      }),
    { numRuns: 200, seed: 0x5eed },
  );
});

test('a decision that fired draws again on the next attempt, so a retried message is not refused forever', () => {
  const d = new SeededDecisions(7);
  let attempts = 0;
  while (d.chance('su', 'sender\u0000m-1', 0.9) && attempts < 1000) attempts++;
  assert.ok(attempts < 1000, 'a later attempt passes');
  assert.is(d.chance('su', 'x', 0), false);
  assert.is(d.chance('su', 'x', 1), true);
  assert.is(d.size, attempts > 0 ? 1 : 0, 'only keys that fired are kept; p = 0 or 1 keeps nothing');
});

test('the hash hits a rate within 1.5 points over 20 000 keys, and another seed picks other keys', () => {
  let hits = 0;
  let same = 0;
  for (let i = 0; i < 20_000; i++) {
    const x = hashUnit(1, `m-${i}`, 0) < 0.1;
    if (x) hits++;
    if (x && hashUnit(2, `m-${i}`, 0) < 0.1) same++;
  }
  assert.ok(Math.abs(hits / 20_000 - 0.1) < 0.015, `${hits}`);
  assert.ok(same < hits / 4, `seeds 1 and 2 share ${same} of ${hits}`);
});

test('memory stays within maxKeys: the least recently fired key is forgotten first', () => {
  const d = new SeededDecisions(3, 10);
  for (let i = 0; i < 1000; i++) d.chance('cut', `k${i}`, 0.99);
  assert.ok(d.size <= 10);
});

/** Which of 40 messages a fresh emulator with this seed NACKs SERVICE_UNAVAILABLE, sent over `conns` connections. */
async function refusedBy(seed: number, conns: number, order: number[]): Promise<string[]> {
  const emu = new CcsEmulator({ port: 0, seed, faults: { serviceUnavailableRate: 0.25 } });
  await emu.start();
  try {
    const clients: TestClient[] = [];
    for (let i = 0; i < conns; i++) clients.push(await TestClient.connect({ port: emu.port, ca: emu.ca }));
    const refused: string[] = [];
    await Promise.all(order.map(async (i, k) => {
      const m = await (clients[k % conns] as TestClient).request({ to: 'tok', message_id: `m-${i}` });
      if (m.kind === 'nack' && m.error.code === 'SERVICE_UNAVAILABLE') refused.push(`m-${i}`);
    }));
    for (const c of clients) await c.close();
    return refused.sort();
  } finally {
    await emu.stop();
  }
}

test('the same seed NACKs the same messages SERVICE_UNAVAILABLE over one connection or three, in any order', async () => {
  const ids = Array.from({ length: 40 }, (_, i) => i);
  const one = await refusedBy(5, 1, ids);
  const three = await refusedBy(5, 3, [...ids].reverse());
  assert.ok(one.length > 0 && one.length < 40, `${one.length} refused`);
  assert.equal(three, one);
  assert.not.equal(await refusedBy(6, 1, ids), one, 'another seed refuses others');
});

test.run();
