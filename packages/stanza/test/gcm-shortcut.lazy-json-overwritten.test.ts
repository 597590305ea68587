import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recorder } from '@ccs-xmpp/stream/testing';
import { gcmAckShortcut, type GcmParts } from '../src/index.js';
import { HEADER, bytes } from './helpers/parser.js';

// Regression: a canonical ACK's `json` is made lazily from the bytes match() was given (87317ea),
// at the first read or when the parser lets go of the chunk. When those bytes are the parser's own
// buffer (small chunks are copied into it, and a stanza cut by a chunk's end is kept there), the
// same write() could copy later bytes over them — the rest of the chunk after a stanza saxes took,
// or the start of a stanza cut by a large chunk's end — before the string was made: the parts then
// read back another stanza's bytes as their `json`, silently. The parts stay readable until the next
// stanza (gcm-shortcut.ts), so what they say after the write must be what they said in the callback.

const NS = 'google:mobile:data';
const ack = (id: string): string => `{"from":"device-token-1","message_id":"${id}","message_type":"ack"}`;
const wrap = (payload: string): string => `<message id=""><gcm xmlns="${NS}">${payload}</gcm></message>`;
const IQ = "<iq type='get' id='p1' from='gcm.googleapis.com'><ping xmlns='urn:xmpp:ping'/></iq>";
/** The start of a stanza whose end comes with the next write, long enough to cover an ACK's payload. */
const CUT = `<message id="u-1"><gcm xmlns="${NS}">{"category":"c","data":{"k":"${'v'.repeat(600)}`;

/** The last parts handed over: the json read inside the callback, and the parts themselves. */
function lastParts(): { r: { parser: { write(chunk: Uint8Array): void } }; seen: Array<[string, GcmParts]> } {
  const seen: Array<[string, GcmParts]> = [];
  // As the client takes an ACK: by its id and from, never asking for `json` in the callback.
  const r = recorder({ shortcut: gcmAckShortcut }, undefined, (parts: GcmParts) => {
    if (parts.ackId !== undefined) parts.ackFrom('device-token-1');
    seen.push([latin1Json(parts), parts]);
    return true;
  });
  return { r, seen };
}

/** What `json` is, read without making it (the bytes it would be made from, or the string). */
function latin1Json(parts: GcmParts): string {
  const p = parts as unknown as { textBuf: Buffer | null; textAt: number; textEnd: number; text: string };
  return p.textBuf !== null ? p.textBuf.toString('latin1', p.textAt, p.textEnd) : p.text;
}

test('an ACK taken from a small chunk keeps its json when the rest of the chunk, after a stanza saxes took, is copied into the parser\'s buffer', () => {
  const { r, seen } = lastParts();
  r.parser.write(bytes(HEADER));
  r.parser.write(bytes(wrap(ack('m-1')) + IQ + CUT));
  assert.is(seen.length, 1);
  const [, parts] = seen[0] as [string, GcmParts];
  assert.is(parts.ackId, 'm-1');
  assert.is(parts.json, ack('m-1'));
});

test('an ACK finished by a large chunk keeps its json when that chunk ends with the start of another stanza', () => {
  const { r, seen } = lastParts();
  const first = wrap(ack('m-2'));
  const cutAt = 30;
  r.parser.write(bytes(HEADER + first.slice(0, cutAt)));
  // More than 4096 bytes: read in place, the ACK's end appended to the parser's buffer.
  r.parser.write(bytes(first.slice(cutAt) + ' '.repeat(5000) + CUT));
  assert.is(seen.length, 1);
  const [, parts] = seen[0] as [string, GcmParts];
  assert.is(parts.ackId, 'm-2');
  assert.is(parts.json, ack('m-2'));
});

test('property: however the stream is cut, the last parts of each write read the json they held in the callback', () => {
  const stanzas = [wrap(ack('m-1')), IQ, wrap(ack('m-22')), ' '.repeat(600), wrap(ack('m-333')), IQ, wrap('{"message_type":"receipt","message_id":"r","from":"t"}'), wrap(ack('m-4')), ' '.repeat(5000), wrap(ack('m-5')), IQ];
  const input = bytes(HEADER + stanzas.join('') + CUT);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: HEADER.length, max: input.length - 1 }), { maxLength: 8 }), (cuts) => {
      const { r, seen } = lastParts();
      let at = 0;
      for (const cut of [...cuts.sort((a, b) => a - b), input.length]) {
        if (cut <= at) continue;
        const before = seen.length;
        r.parser.write(input.subarray(at, cut));
        at = cut;
        if (seen.length > before) {
          const [json, parts] = seen[seen.length - 1] as [string, GcmParts];
          if (parts.json !== json) throw new Error(`json ${JSON.stringify(parts.json.slice(0, 80))} after the write, ${JSON.stringify(json)} in the callback (cuts ${cuts.join(', ')})`);
        }
      }
      assert.is(seen.length, 6);
    }),
    { seed: 0x5eed, numRuns: 300 },
  );
});

test.run();
