// `ccs-emulator --devices -1` and friends: a negative number gets the flag's range message (parseArgs
// alone calls it an ambiguous argument and the CLI said "bad option"), in process and from the bin.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EmulatorError, parseCommandLine } from '../src/index.js';

const BIN = fileURLToPath(new URL('../../bin/ccs-emulator.js', import.meta.url));

const configError = (argv: string[]): string => {
  try {
    parseCommandLine(argv, {});
  } catch (err) {
    assert.ok(err instanceof EmulatorError && err.code === 'EMU_ERR_CONFIG', argv.join(' '));
    return err.message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

test('a negative number gets the range message of its flag', () => {
  assert.is(configError(['--devices', '-1']), '--devices needs an integer ≥ 0, got "-1"');
  assert.is(configError(['--port', '-5235']), '--port must be an integer 0…65535, got "-5235"');
  assert.is(configError(['--admin-port', '-1']), '--admin-port must be an integer 0…65535, got "-1"');
  assert.is(configError(['--cut-probability', '-0.5']), '--cut-probability needs a number ≥ 0, got "-0.5"');
  assert.is(configError(['--upstream-rate', '-.5']), '--upstream-rate needs a number ≥ 0, got "-.5"');
  // Joined only after a flag: a stray negative number is still a stray argument.
  assert.match(configError(['-1']), /bad option|unexpected argument/);
  // A boolean flag does not swallow it either.
  assert.match(configError(['--verbose', '-1']), /bad option --verbose/);
});

test('the bin prints the range message on stderr and exits 2', () => {
  const r = spawnSync(process.execPath, [BIN, '--devices', '-1'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 2);
  assert.is(r.stderr, 'ccs-emulator: --devices needs an integer ≥ 0, got "-1"\n');
  assert.is(r.stdout, '');
});

test.run();
