// scripts/run-uvu.mjs does not run a compiled test whose source is gone: tsc never deletes the
// output of a removed or renamed .ts (and turbo's cache restores it), so a stale dist/test file
// would otherwise run, and fail or pass, for code that no longer exists. It says so in one line.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const passing = "import { test } from 'uvu';\ntest('kept', () => {});\ntest.run();\n";
const failing = "import { test } from 'uvu';\ntest('stale', () => { throw new Error('a stale file ran'); });\ntest.run();\n";

test('a compiled test whose .ts is gone is not run, and the run says so in one line', () => {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const pkg = mkdtempSync(join(ROOT, '.tmp', 'stale-'));
  try {
    mkdirSync(join(pkg, 'test', 'sub'), { recursive: true });
    mkdirSync(join(pkg, 'dist', 'test', 'sub'), { recursive: true });
    writeFileSync(join(pkg, 'test', 'kept.test.ts'), '');
    writeFileSync(join(pkg, 'test', 'sub', 'nested.test.ts'), '');
    writeFileSync(join(pkg, 'dist', 'test', 'kept.test.js'), passing);
    writeFileSync(join(pkg, 'dist', 'test', 'sub', 'nested.test.js'), passing);
    writeFileSync(join(pkg, 'dist', 'test', 'renamed.test.js'), failing);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
    delete env['NODE_V8_COVERAGE'];
    const r = spawnSync(process.execPath, ['scripts/run-uvu.mjs', join(pkg, 'dist', 'test')], { cwd: ROOT, env, encoding: 'utf8', timeout: 45_000 });
    const out = r.stdout + r.stderr;
    assert.is(r.status, 0, out);
    assert.match(out, /2 passed, 0 failed/);
    const notRun = out.split('\n').filter((l) => l.startsWith('Not run:'));
    assert.is(notRun.length, 1, out);
    assert.match(notRun[0] ?? '', /1 compiled test file\(s\) whose source is gone/);
    assert.match(notRun[0] ?? '', /renamed\.test\.js/);
    assert.not.match(out, /a stale file ran/);
  } finally {
    rmSync(pkg, { recursive: true, force: true });
  }
});

test.run();
