import { parseArgs } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { joinNegativeValues } from '../src/index.js';

test('joinNegativeValues joins a --long option and the negative number after it, and nothing else', () => {
  assert.equal(joinNegativeValues(['--ttl', '-1', '--rate', '-0.5', '--x', '-.5']), ['--ttl=-1', '--rate=-0.5', '--x=-.5']);
  assert.equal(joinNegativeValues(['--to', 't', '--ttl', '7']), ['--to', 't', '--ttl', '7'], 'positive values stay apart');
  assert.equal(joinNegativeValues(['--ttl=-1', '-2']), ['--ttl=-1', '-2'], 'an option that has its value already');
  assert.equal(joinNegativeValues(['-t', '-1']), ['-t', '-1'], 'short options are left to parseArgs');
  assert.equal(joinNegativeValues(['--ttl', '-x']), ['--ttl', '-x'], 'a value that looks like an option is not a number');
  assert.equal(joinNegativeValues(['--to', 'tok-1']), ['--to', 'tok-1'], 'a value with a minus inside is not negative');
  assert.equal(joinNegativeValues(['--ttl']), ['--ttl'], 'the last argument');
  assert.equal(joinNegativeValues(['--a', '-1', '-2']), ['--a=-1', '-2'], 'one value per option');
  assert.equal(joinNegativeValues(['-1', '--ttl', '-2', 'x', '-3']), ['-1', '--ttl=-2', 'x', '-3'], 'a negative number first, or after a positional');
  assert.equal(joinNegativeValues([]), []);
});

test('parseArgs then reads the negative value (it stops with "argument is ambiguous" without the join)', () => {
  const options = { ttl: { type: 'string' }, verbose: { type: 'boolean' } } as const;
  const argv = ['--ttl', '-1'];
  assert.throws(() => parseArgs({ args: argv, options, strict: true }), /ambiguous/);
  assert.is(parseArgs({ args: joinNegativeValues(argv), options, strict: true }).values.ttl, '-1');
  // After a boolean flag the joined form is refused too, as a boolean takes no value.
  assert.throws(() => parseArgs({ args: joinNegativeValues(['--verbose', '-1']), options, strict: true }), /does not take an argument/);
});

test.run();
