import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StanzaParser, StreamError } from '../src/index.js';
import { HEADER, bytes } from './helpers.js';
import { toy } from './toy-shortcut.js';

// A nested write() would overwrite the chunk being read; the refusal is a typed error a caller can
// tell from any other by its code, from both paths (saxes' callbacks and the shortcut's).
test('write() from inside a callback throws StreamError STREAM_ERR_REENTRANT_WRITE, from saxes\' onStanza and from onShortcut', () => {
  const refused: unknown[] = [];
  const nest = (): void => {
    try {
      parser.write(bytes(`<iq id='nested'/>`));
      refused.push('accepted');
    } catch (err) {
      refused.push(err);
    }
  };
  const parser: StanzaParser<string> = new StanzaParser<string>({
    onStreamOpen: nest,
    onStanza: nest,
    onShortcut: () => (nest(), true),
    onStreamEnd() {},
    onError: (e) => assert.unreachable(e.message),
  }, { shortcut: toy });
  parser.write(bytes(`${HEADER}<iq id='1'/><x>ab</x>`));
  assert.is(refused.length, 3, 'the header, the saxes stanza and the shortcut stanza');
  for (const err of refused) {
    assert.instance(err, StreamError);
    assert.is((err as StreamError).name, 'StreamError');
    assert.is((err as StreamError).code, 'STREAM_ERR_REENTRANT_WRITE');
    assert.is((err as StreamError).condition, 'internal-server-error');
  }
});

test.run();
