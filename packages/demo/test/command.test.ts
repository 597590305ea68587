// The command line: flags to options (table-driven), refusals with exit 2, --help, and a small run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEMO_EXIT_OK, DEMO_EXIT_USAGE, DemoUsageError, parseDemoArgs, runDemoCli, type DemoOptions } from '../src/index.js';
import { Collect } from './helpers.js';

const OK: Array<[string[], DemoOptions]> = [
  [[], { faults: {} }],
  [['--devices', '20', '--messages', '200', '--connections', '3', '--seed', '42'], { devices: 20, messages: 200, connections: 3, seed: 42, faults: {} }],
  [['--duration', '2.5', '--rate', '1000'], { durationSec: 2.5, rate: 1000, faults: {} }],
  [['--nack-rate', '0.1', '--service-unavailable-rate', '0', '--drain-at', '0.5', '--cut-at', '0.9'], { faults: { nackRate: 0.1, serviceUnavailableRate: 0, drainAt: 0.5, cutAt: 0.9 } }],
  [['--no-drain', '--no-cut', '--no-rate-limit'], { faults: { drainAt: false, cutAt: false, rateLimit: false } }],
];

test('parseDemoArgs maps each flag to its option', () => {
  for (const [argv, want] of OK) assert.equal(parseDemoArgs(argv), want, argv.join(' '));
  assert.is(parseDemoArgs(['--help']), undefined);
  assert.is(parseDemoArgs(['-h', '--devices', '5']), undefined);
});

const BAD: Array<[string[], RegExp]> = [
  [['--devices', '0'], /--devices must be an integer in \[1, 1000000\], got "0"/],
  [['--messages', '1.5'], /--messages must be an integer/],
  [['--rate', 'fast'], /--rate must be a number/],
  [['--nack-rate', '1.1'], /--nack-rate must be a number in \[0, 1\]/],
  [['--seed', ''], /--seed must be an integer/],
  [['--messages', '10', '--duration', '1'], /--messages or --duration, not both/],
  [['--no-drain', '--drain-at', '0.5'], /--drain-at and --no-drain contradict/],
  [['--no-cut', '--cut-at', '0.5'], /--cut-at and --no-cut contradict/],
  [['--bogus'], /Unknown option '--bogus'/],
  [['extra'], /positional argument/],
];

test('parseDemoArgs refuses bad flags with DemoUsageError naming the flag', () => {
  for (const [argv, re] of BAD) {
    const err = (() => {
      try {
        parseDemoArgs(argv);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.instance(err, DemoUsageError, argv.join(' '));
    assert.match((err as Error).message, re);
  }
});

test('runDemoCli prints help (exit 0) and refuses a bad flag on stderr (exit 2)', async () => {
  const out = new Collect();
  const err = new Collect();
  assert.is(await runDemoCli(['--help'], { stdout: out, stderr: err }), DEMO_EXIT_OK);
  assert.match(out.text, /^usage: npm start -- \[options\]/);
  assert.match(out.text, /--service-unavailable-rate X/);
  assert.is(err.text, '');
  const out2 = new Collect();
  assert.is(await runDemoCli(['--devices', 'many'], { stdout: out2, stderr: err }), DEMO_EXIT_USAGE);
  assert.is(out2.text, '');
  assert.match(err.text, /^ccs-demo: --devices must be an integer .* \(try --help\)\n$/);
});

test('runDemoCli runs a small demo and exits 0 when nothing is lost', async () => {
  const out = new Collect();
  const err = new Collect();
  const ac = new AbortController();
  const code = await runDemoCli(['--devices', '10', '--messages', '60', '--rate', '1000', '--no-drain', '--no-cut', '--no-rate-limit', '--seed', '9'], { stdout: out, stderr: err, signal: ac.signal });
  assert.is(code, DEMO_EXIT_OK, out.text + err.text);
  assert.match(out.text, /Summary — seed 9, 10 devices, 2 connections/);
  assert.match(out.text, /result: nothing lost/);
  assert.is(err.text, '');
});

test.run();
