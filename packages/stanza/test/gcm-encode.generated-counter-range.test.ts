// GcmEncoder.appendGenerated / encodeGenerated with a counter outside 0 ≤ counter < 2^53 (an
// integer): the public methods promise the bytes of `encodeDownstream(msg, generatedIdText(prefix,
// counter))`, but the plain path's digit loop assumed the range — a negative, fractional or NaN
// counter came out as a NUL byte in the stanza id and the JSON (not well-formed XML: the server
// closes the stream), a counter past 2^53 with other digits than `toString(36)`'s, and Infinity
// never returned (its digit count loop does not end). Such a counter now goes the general way.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GcmEncoder, generatedIdPrefix, generatedIdText, type GeneratedIdPrefix, type OutgoingMessage } from '@ccs-xmpp/stanza';

const prefix = generatedIdPrefix('x-') as GeneratedIdPrefix;
const MESSAGES: OutgoingMessage[] = [{ to: 'tok' }, { to: 'tok', data: { body: 'hello', seq: '7' } }];

test('a counter outside 0…2^53 − 1 is written as generatedIdText spells it, never as a NUL byte or other digits', () => {
  for (const counter of [-1, -36, 1.5, 35.25, Number.NaN, 2 ** 53, 2 ** 60, 1e21, -0]) {
    for (const msg of MESSAGES) {
      const viaString = new GcmEncoder().encodeDownstream(msg, generatedIdText(prefix, counter)).toString('latin1');
      const viaCounter = new GcmEncoder().encodeGenerated(msg, prefix, counter).toString('latin1');
      assert.is(viaCounter, viaString, `counter ${counter}`);
      assert.not.match(viaCounter, /\0/, `counter ${counter}`);
      // And in a run, between in-range ones.
      const run = new GcmEncoder();
      const ref = new GcmEncoder();
      for (const c of [7, counter, 8]) {
        run.appendGenerated(msg, prefix, c);
        ref.appendDownstream(msg, generatedIdText(prefix, c));
      }
      assert.is(run.takeRun()?.toString('latin1'), ref.takeRun()?.toString('latin1'), `run with counter ${counter}`);
    }
  }
});

test('an infinite counter returns (in a child process: a loop that never ends cannot be timed out in this one)', () => {
  const index = new URL('../src/index.js', import.meta.url).href;
  const code = `
    const { GcmEncoder, generatedIdPrefix, generatedIdText } = await import(${JSON.stringify(index)});
    const p = generatedIdPrefix('x-');
    const out = [];
    for (const c of [Infinity, -Infinity]) {
      const a = new GcmEncoder().encodeGenerated({ to: 'tok' }, p, c).toString('latin1');
      const b = new GcmEncoder().encodeDownstream({ to: 'tok' }, generatedIdText(p, c)).toString('latin1');
      out.push(a === b ? 'same' : 'differs');
    }
    process.stdout.write(out.join(','));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 10_000 });
  assert.is(child.signal, null, 'the child returned before its timeout');
  assert.is(child.stdout, 'same,same', child.stderr);
});

test.run();
