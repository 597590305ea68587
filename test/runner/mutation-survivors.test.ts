// scripts/lib/mutation-survivors.mjs: the mutants `npm run test:mutation -- <pkg> --survivors`
// reruns, from the incremental file, narrowed by MUTATE to files or to line ranges of a file.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-expect-error: a plain .mjs script without types
import { survivorRanges } from '../../../scripts/lib/mutation-survivors.mjs';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ranges = survivorRanges as (file: string, mutate?: string) => string[];

const at = (line: number, column: number, status: string) => ({ status, location: { start: { line, column }, end: { line, column: column + 3 } } });

test('--survivors reruns the survived and uncovered mutants on record, of the files MUTATE names, or of the lines a range names', () => {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.tmp', 'mutation-survivors-'));
  try {
    const file = join(dir, 'x.incremental.json');
    writeFileSync(file, JSON.stringify({
      files: {
        'dist/src/a.js': { mutants: [at(10, 5, 'Survived'), at(10, 5, 'NoCoverage'), at(20, 1, 'Killed'), at(80, 2, 'Survived'), at(305, 9, 'Survived')] },
        'dist/src/b.js': { mutants: [at(3, 1, 'Survived'), at(4, 1, 'Timeout')] },
      },
    }));
    const all = ['dist/src/a.js:10:4-10:8', 'dist/src/a.js:80:1-80:5', 'dist/src/a.js:305:8-305:12', 'dist/src/b.js:3:0-3:4'];
    assert.equal(ranges(file), all);
    assert.equal(ranges(file, 'dist/src/a.js'), all.slice(0, 3));
    assert.equal(ranges(file, 'dist/src/b.js,dist/src/a.js'), all);
    // A line range takes the mutants that start on those lines; two ranges of a file, both.
    assert.equal(ranges(file, 'dist/src/a.js:75-304'), ['dist/src/a.js:80:1-80:5']);
    assert.equal(ranges(file, 'dist/src/a.js:1-80,dist/src/a.js:305-400'), all.slice(0, 3));
    assert.equal(ranges(file, 'dist/src/a.js:81-304'), []);
    // Stryker's own column form names the whole file.
    assert.equal(ranges(file, 'dist/src/b.js:3:0-3:4'), ['dist/src/b.js:3:0-3:4']);
    assert.equal(ranges(join(dir, 'none.json')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
