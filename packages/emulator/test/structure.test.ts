// The emulator's structure (issue 15): no import cycle among its source files (the router sees a
// session only as an UpstreamOutlet), and no file grown past ~450 lines.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const files = readdirSync(SRC).filter((f) => f.endsWith('.ts'));

/** Relative imports of a file (type-only ones included: a cycle of types is still a cycle in the design). */
function importsOf(file: string): string[] {
  const text = readFileSync(SRC + file, 'utf8');
  return [...text.matchAll(/^(?:import|export)[^'";]*?from '\.\/([^']+)\.js';/gm)].map((m) => `${m[1]}.ts`);
}

test('packages/emulator/src has no import cycle', () => {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  assert.ok((graph.get('session.ts') ?? []).length > 3, 'the import scan sees the session\'s imports');
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') assert.unreachable(`import cycle: ${[...path, f].join(' → ')}`);
    state.set(f, 'visiting');
    for (const dep of graph.get(f) ?? []) visit(dep, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
});

test('no file in packages/emulator/src is over 450 lines', () => {
  for (const f of files) {
    const lines = readFileSync(SRC + f, 'utf8').split('\n').length;
    assert.ok(lines <= 450, `${f} has ${lines} lines`);
  }
});

test.run();
