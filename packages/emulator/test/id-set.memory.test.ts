// The README's claim that counter-style ids cost nothing per id, measured in a child process (its
// own heap, nothing else allocated): a million ids of one kind each, held in one IdSet.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ID_SET = fileURLToPath(new URL('../src/id-set.js', import.meta.url));

/** Heap growth (bytes, after GC) of an IdSet holding `count` ids made by `make` (a JS expression of n). */
function heapGrowth(make: string, count: number): { bytes: number; size: number } {
  const script = `
    const { IdSet } = await import(${JSON.stringify(ID_SET)});
    globalThis.gc(); globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    const set = new IdSet();
    for (let n = 0; n < ${count}; n++) set.add(${make});
    globalThis.gc(); globalThis.gc();
    const bytes = process.memoryUsage().heapUsed - before;
    process.stdout.write(JSON.stringify({ bytes, size: set.size }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { bytes: number; size: number };
}

// A Set<string> of these ids costs ~50 bytes each (50 MB here); the ranges cost a few bytes in all.
const BUDGET = 2 * 1024 * 1024;

for (const [what, make] of [
  ["the emulator's own decimal upstream ids (up-N)", '`up-${n + 1}`'],
  ["the README's decimal ids (msg-17)", '`msg-${n}`'],
  ['plain decimal numbers', 'String(n)'],
  ["the client's base-36 counters", '`lo1x9abc-${n.toString(36)}`'],
] as const) {
  test(`a million of ${what} cost less than 2 MB of heap in all`, () => {
    const { bytes, size } = heapGrowth(make, 1_000_000);
    assert.is(size, 1_000_000);
    assert.ok(bytes < BUDGET, `heap grew ${(bytes / 1e6).toFixed(1)} MB`);
  });
}

test.run();
