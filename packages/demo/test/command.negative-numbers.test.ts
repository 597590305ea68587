// `npm start -- --messages -5`: a negative number gets the flag's range message (parseArgs alone
// calls it an ambiguous argument), in process and from scripts/start.mjs as `npm start` runs it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DemoUsageError, parseDemoArgs } from '../src/index.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));

const usage = (argv: string[]): string => {
  try {
    parseDemoArgs(argv);
  } catch (err) {
    assert.instance(err, DemoUsageError);
    return (err as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

test('a negative number gets the range message of its flag', () => {
  assert.is(usage(['--messages', '-5']), '--messages must be an integer in [1, 10000000], got "-5"');
  assert.is(usage(['--devices', '-1']), '--devices must be an integer in [1, 1000000], got "-1"');
  assert.is(usage(['--nack-rate', '-0.1']), '--nack-rate must be a number in [0, 1], got "-0.1"');
  assert.match(usage(['--no-cut', '-1']), /'--no-cut' does not take an argument/);
});

test('npm start -- --messages -5 prints the range message and exits 2', () => {
  const r = spawnSync(process.execPath, ['scripts/start.mjs', '--messages', '-5'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 2);
  assert.is(r.stderr, 'ccs-demo: --messages must be an integer in [1, 10000000], got "-5" (try --help)\n');
});

test.run();
